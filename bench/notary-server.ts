/**
 * notary-server on 127.0.0.1 for the benches, with the configuration test/helpers/notary-server.ts
 * gives it (in-memory storage, the local trust service, log level info) and its log written to a
 * file in a private temp directory. Not that helper itself: it keeps the server's log in a
 * string of at most 2 MiB, and once the log is that long it copies those 2 MiB for every
 * chunk the server writes — in the bench's process, where it delayed every request by ~6 ms
 * after about 2,400 of them and would have been counted as the server's time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { makeTempDir } from './daemon-setup';
import { freePort } from '../test/helpers/ports';

export interface NotaryServer {
  readonly url: string;
  readonly pid: number;
  /** The server's log (JSON lines at level info), for its own time per request. */
  readonly logFile: string;
  stop(): Promise<void>;
}

/**
 * The server's own time (ms) for each POST to `/v2/<gun>/_trust/tuf/` it completed, in
 * log order: the `http.response.duration` of its "response completed" lines.
 */
export function publishDurations(logFile: string, gun: string): number[] {
  const uri = `/v2/${gun}/_trust/tuf/`;
  const out: number[] = [];
  for (const text of readFileSync(logFile, 'utf8').split('\n')) {
    if (!text.includes('"response completed"') || !text.includes(uri)) continue;
    const entry = JSON.parse(text) as Record<string, unknown>;
    const d = entry['http.response.duration'];
    if (entry['http.request.method'] !== 'POST' || typeof d !== 'string') continue;
    const m = /^([0-9.]+)(ms|s|µs)$/.exec(d);
    if (!m) continue;
    const unit = m[2] === 's' ? 1000 : m[2] === 'ms' ? 1 : 0.001;
    out.push(Number(m[1]) * unit);
  }
  return out;
}

const servers = new Set<ChildProcess>();

/** `setpriv --pdeathsig KILL`: the kernel kills a child if the bench dies, however. */
export const DEATH_SIGNAL = existsSync('/usr/bin/setpriv')
  ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL']
  : [];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function healthy(url: string): Promise<boolean> {
  return new Promise((res) => {
    const req = get(`${url}/_notary_server/health`, { timeout: 1000 }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res(false));
  });
}

export const exitedYet = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;

/**
 * notary-server on 127.0.0.1 with the configuration test/helpers/notary-server.ts gives it
 * (in-memory storage, the local trust service, log level info), its log written to a file
 * in a private temp directory. Not that helper itself: it keeps the server's log in a
 * string of at most 2 MiB, and once the log is that long it copies those 2 MiB for every
 * chunk the server writes — in this process, where it delayed every request by ~6 ms
 * after about 2,400 of them and would have been counted as the server's time.
 */
export async function startNotaryServer(): Promise<NotaryServer> {
  const dir = await makeTempDir('notary-server-');
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('NOTARY_SERVER_')) delete env[k];
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const config = join(dir, 'server.json');
    const doc = {
      server: { http_addr: `127.0.0.1:${port}` },
      trust_service: { type: 'local' },
      storage: { backend: 'memory' },
      logging: { level: 'info' },
    };
    writeFileSync(config, `${JSON.stringify(doc, null, 2)}\n`);
    const logFile = join(dir, `server-${attempt}.log`);
    const fd = openSync(logFile, 'w', 0o600);
    const [cmd, ...args] = [...DEATH_SIGNAL, 'notary-server', '-config', config];
    let child: ChildProcess;
    try {
      child = spawn(cmd ?? 'notary-server', args, { cwd: dir, env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    servers.add(child);
    let spawnError: Error | undefined;
    const exited = new Promise<void>((res) => {
      child.once('exit', () => res());
      child.once('error', (err) => {
        spawnError = err;
        res(); // a process that never started emits no exit
      });
    });
    void exited.then(() => servers.delete(child));
    const logTail = (): string => readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
    const stop = async (): Promise<void> => {
      if (exitedYet(child) || spawnError) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    };
    const deadline = Date.now() + 10_000;
    let up = false;
    while (!up && Date.now() < deadline && !exitedYet(child) && !spawnError) {
      if (await healthy(url)) {
        // a server that could not bind its port (another one answered) exits at once
        await sleep(200);
        up = !exitedYet(child);
      } else {
        await sleep(100);
      }
    }
    if (up) return { url, pid: child.pid ?? -1, logFile, stop };
    await stop();
    if (spawnError) {
      throw new Error(
        `cannot start notary-server (scripts/install-deps.sh): ${spawnError.message}`,
      );
    }
    const log = logTail();
    if (/address already in use/.test(log) && attempt < 5) continue;
    throw new Error(`notary-server did not start on ${url}; the end of its log:\n${log}`);
  }
}

/** Stops every server still running (SIGTERM, SIGKILL after 5 s). */
export async function stopServers(): Promise<void> {
  await Promise.all(
    [...servers].map(
      (s) =>
        new Promise<void>((res) => {
          if (exitedYet(s)) return res();
          s.once('exit', () => res());
          s.kill('SIGTERM');
          setTimeout(() => s.kill('SIGKILL'), 5000).unref();
        }),
    ),
  );
}

/** Last resort at process exit. */
export function killServersNow(): void {
  for (const s of servers) s.kill('SIGKILL');
}
