/**
 * Starts the Debian `notary-server` for integration tests, as scripts/notary-up.sh does:
 * 127.0.0.1 on a free port, in-memory storage, the local (ed25519) trust service, and with
 * `tls` a self-signed EC certificate for IP:127.0.0.1 made with openssl. It waits for
 * `GET /_notary_server/health` (10 s at most; if the server dies the error carries the tail
 * of its log), picks another port when the chosen one was taken meanwhile, and stops with
 * SIGTERM, then SIGKILL after 5 s. A server still running when the test process ends is
 * killed with it (parent-death signal; exit hook outside jest). Use one server per test
 * file: start it in beforeAll, stop it in afterAll.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';
import { makeTempDir } from './tmp';

/** A running notary-server. */
export interface NotaryServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The self-signed certificate to trust, for a TLS server. */
  readonly caFile?: string;
  /** What the server wrote to stdout and stderr so far (at least the last 2 MiB). */
  logs(): string;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const HEALTH_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const MAX_LOG_CHARS = 2 << 20;

/**
 * `setpriv --pdeathsig KILL` (util-linux) makes the kernel kill the server when the test
 * process dies, however it dies; jest gives test code no hook on the real process exit.
 */
const DEATH_SIGNAL = existsSync('/usr/bin/setpriv')
  ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL']
  : [];

const running = new Set<ChildProcess>();
function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function healthy(url: string, ca: Buffer | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const target = `${url}/_notary_server/health`;
    const req = ca ? https.get(target, { ca, timeout: 1000 }) : http.get(target, { timeout: 1000 });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * True when process `pid` owns the socket listening on 127.0.0.1:`port` — so a health
 * answer came from our server, not from another one that took the port first.
 */
async function ownsListener(pid: number, port: number): Promise<boolean> {
  try {
    const fds = await readdir(`/proc/${pid}/fd`);
    const links = await Promise.all(
      fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')),
    );
    const inodes = new Set(links.map((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1]).filter(Boolean));
    const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    const rows = (await readFile('/proc/net/tcp', 'utf8'))
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    return rows.some((c) => c[1] === local && c[3] === '0A' && inodes.has(c[9]));
  } catch {
    return true; // no /proc to ask: trust the health answer
  }
}

async function makeTlsCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '30', '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=IP:${HOST}`,
    '-keyout', key, '-out', cert,
  ]); // prettier-ignore
  return { cert, key };
}

function serverEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('NOTARY_SERVER_')) delete env[k];
  return env;
}

/** notary-server's registry token auth: the token service and the certificates it signs with. */
export interface ServerTokenAuth {
  realm: string;
  service: string;
  issuer: string;
  rootcertbundle: string;
}

async function launch(
  dir: string,
  tls: { cert: string; key: string } | undefined,
  ca: Buffer | undefined,
  auth: ServerTokenAuth | undefined,
) {
  const port = await freePort();
  const scheme = tls ? 'https' : 'http';
  const url = `${scheme}://${HOST}:${port}`;
  const config = join(dir, 'server.json');
  const server = {
    http_addr: `${HOST}:${port}`,
    ...(tls ? { tls_cert_file: tls.cert, tls_key_file: tls.key } : {}),
  };
  const cfg = {
    server,
    trust_service: { type: 'local' },
    storage: { backend: 'memory' },
    logging: { level: 'info' },
    ...(auth ? { auth: { type: 'token', options: { ...auth, autoredirect: false } } } : {}),
  };
  await writeFile(config, JSON.stringify(cfg, null, 2) + '\n');

  const [cmd, ...args] = [...DEATH_SIGNAL, 'notary-server', '-config', config];
  const child = spawn(cmd ?? 'notary-server', args, {
    cwd: dir,
    env: serverEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (running.size === 0) process.on('exit', killAll);
  running.add(child);
  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    // Cut only once the log is twice the bound: cutting at the bound copied 2 MiB for every
    // chunk the server wrote, which slowed every request of a long test.
    if (log.length > 2 * MAX_LOG_CHARS) log = log.slice(-MAX_LOG_CHARS);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  // A forgotten server must not keep the test process alive; its death signal then kills it.
  child.unref();
  for (const pipe of [child.stdout, child.stderr])
    (pipe as { unref?: () => void } | null)?.unref?.();
  const closed = new Promise((resolve) => child.once('close', resolve));
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  child.once('exit', () => {
    running.delete(child);
    if (running.size === 0) process.removeListener('exit', killAll);
  });

  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawnError)
      throw new Error(
        `cannot start notary-server (install it with scripts/install-deps.sh): ${spawnError.message}`,
      );
    if (exited(child)) {
      await closed; // all of its output is in `log`
      return { port, url, child, log: () => log, died: true as const };
    }
    if ((await healthy(url, ca)) && (await ownsListener(child.pid ?? 0, port))) {
      return { port, url, child, log: () => log, died: false as const };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  await waitExit(child, STOP_GRACE_MS);
  throw new Error(
    `notary-server did not answer ${url}/_notary_server/health within 10 s; log tail:\n${tail(log)}`,
  );
}

function tail(log: string): string {
  return log.split('\n').slice(-20).join('\n');
}

/** Starts a notary-server on 127.0.0.1; with `tls`, https with a fresh self-signed certificate. */
export async function startNotaryServer(
  opts: { tls?: boolean; auth?: ServerTokenAuth } = {},
): Promise<NotaryServer> {
  const dir = await makeTempDir('notary-server-');
  const tls = opts.tls ? await makeTlsCert(dir) : undefined;
  const ca = tls ? await readFile(tls.cert) : undefined;
  for (let attempt = 1; ; attempt++) {
    const started = await launch(dir, tls, ca, opts.auth);
    if (started.died) {
      const log = started.log();
      if (/address already in use/.test(log) && attempt < 5) continue; // the port was taken meanwhile
      throw new Error(
        `notary-server exited during startup (code ${String(started.child.exitCode)}); log tail:\n${tail(log)}`,
      );
    }
    const { child, port, url } = started;
    return {
      url,
      port,
      dir,
      ...(tls ? { caFile: tls.cert } : {}),
      logs: started.log,
      async stop(): Promise<void> {
        if (exited(child)) return;
        child.kill('SIGTERM');
        if (await waitExit(child, STOP_GRACE_MS)) return;
        child.kill('SIGKILL');
        await waitExit(child, STOP_GRACE_MS);
      },
    };
  }
}
