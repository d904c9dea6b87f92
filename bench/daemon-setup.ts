/**
 * What bench/daemon.ts runs against: private temp directories, SoftHSM2 tokens in them,
 * a daemon configuration with one delegation key and one CI client, the fault shim (built
 * from test/fault-shim/ with its own build script) with its control file, and the real
 * bin/notary-hsmd as a child process. Everything made or started here is tracked and
 * undone by `cleanUp()` (daemons: SIGTERM, then SIGKILL after a grace period; temp
 * directories: removed), which the bench calls on every way out.
 *
 * Secrets: the token PINs and the client token are throwaway values made here. The PIN
 * goes to the daemon through a 0600 file, to the raw reference over IPC; the client
 * token only ever travels as its SHA-256 (config) and over IPC to the load process.
 * None of them is printed, put on a command line or in an environment variable.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../src/config/load';
import { TokenRegistry } from '../src/pkcs11/registry';
import { hashToken, newClientToken } from '../src/policy/clients';
import { initSoftHsmToken, softHsmModule } from '../src/pkcs11/softhsm';

/** The project root (this file runs from dist/bench/bench/). */
export const ROOT = resolve(__dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'notary-hsmd');

// ---------------------------------------------------------------------------------------
// Cleanup registry

const tempDirs = new Set<string>();
const daemons = new Set<Pick<DaemonProcess, 'child' | 'stop'>>();

/** A fresh private directory `<tmp>/notary-hsm-bench-<prefix>XXXXXX`, removed by cleanUp(). */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `notary-hsm-bench-${prefix}`));
  tempDirs.add(dir);
  return dir;
}

/** Stops every daemon still running (SIGTERM, SIGKILL after `graceMs`), removes the temp dirs. */
export async function cleanUp(graceMs = 15_000): Promise<void> {
  await Promise.all([...daemons].map((d) => d.stop(graceMs)));
  removeTempDirsNow();
}

/** Last resort at process exit: SIGKILL what still runs, remove the temp dirs. */
export function killAllNow(): void {
  for (const d of daemons) d.child.kill('SIGKILL');
  removeTempDirsNow();
}

function removeTempDirsNow(): void {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

// ---------------------------------------------------------------------------------------
// Tokens

/** A throwaway numeric PIN (never printed). */
function throwawayPin(): string {
  return String(100_000_000 + (randomBytes(4).readUInt32BE(0) % 900_000_000));
}

export interface BenchToken {
  readonly label: string;
  /** The softhsm2.conf path (SOFTHSM2_CONF). */
  readonly conf: string;
  readonly dir: string;
  /** The user PIN; stays in memory and in `pinFile` (0600). */
  readonly pin: string;
  readonly pinFile: string;
}

/** Initialises SoftHSM2 token `label` in its own directory under `dir`. */
export async function createSoftHsmToken(dir: string, label: string): Promise<BenchToken> {
  const pin = throwawayPin();
  const soPin = throwawayPin();
  const conf = await initSoftHsmToken({ dir, label, pin, soPin });
  const pinFile = join(dir, 'token.pin');
  writeFileSync(pinFile, `${pin}\n`, { mode: 0o600 });
  return { label, conf, dir, pin, pinFile };
}

// ---------------------------------------------------------------------------------------
// The fault shim

/** Builds test/fault-shim/fault_pkcs11.c into `dir` with the shim's own build script. */
export async function buildFaultShim(dir: string): Promise<string> {
  const out = join(dir, 'libfaultpkcs11.so');
  try {
    await promisify(execFile)('bash', [join(ROOT, 'test', 'fault-shim', 'build.sh'), out]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`building the fault shim failed: ${stderr.trim() || String(err)}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Daemon configuration

/** The GUN pattern the bench key and client are scoped to; client i signs `BENCH_GUN_PREFIX + i`. */
export const BENCH_GUNS = 'localhost:5000/bench/*';
export const BENCH_GUN_PREFIX = 'localhost:5000/bench/c';
export const BENCH_ROLE = 'targets/ci';

export interface DaemonSetup {
  readonly dir: string;
  readonly config: string;
  /** The CI client's bearer token (never printed). */
  readonly clientToken: string;
  readonly token: BenchToken;
  /** The key's label on the token. */
  readonly keyLabel: string;
  /** The module the daemon loads (SoftHSM2, or the fault shim in front of it). */
  readonly module: string;
}

/**
 * A token, a configuration (one token with `sessions`, the delegation key `ci`, the client
 * `ci` allowed `targets/ci` with target pattern `**` for the bench GUNs, policy defaults)
 * and the key generated on the token through the project's own TokenRegistry.
 */
export async function makeDaemonSetup(opts: {
  prefix: string;
  sessions: number;
  /** An hsm-profiles/ name (default softhsm2). */
  profile?: string;
  /** Load this module instead of SoftHSM2 (the fault shim), with extra environment. */
  module?: string;
  moduleEnv?: Record<string, string>;
  /** A home for the shim's control files, when `module` is the shim. */
  dir?: string;
  timeoutMs?: number;
  /** Module host processes signing for the token (`sign_hosts`; default: the profile's). */
  signHosts?: number;
}): Promise<DaemonSetup> {
  const dir = opts.dir ?? (await makeTempDir(opts.prefix));
  const label = `bench-${opts.prefix.replace(/[^a-z0-9]/g, '')}`.slice(0, 32);
  const token = await createSoftHsmToken(dir, label);
  const clientToken = newClientToken();
  const module = opts.module ?? softHsmModule();
  const doc = {
    listen: '127.0.0.1:0',
    state_dir: 'state',
    log: { level: 'info', format: 'json' },
    tokens: [
      {
        name: 'soft',
        profile: opts.profile ?? 'softhsm2',
        label,
        pin: `file:${token.pinFile}`,
        ...(opts.module ? { module: opts.module } : {}),
        environment: { SOFTHSM2_CONF: token.conf, ...opts.moduleEnv },
        sessions: opts.sessions,
        ...(opts.timeoutMs ? { timeout_ms: opts.timeoutMs } : {}),
        ...(opts.signHosts ? { sign_hosts: opts.signHosts } : {}),
      },
    ],
    keys: [
      {
        name: 'ci',
        token: 'soft',
        label: 'ci',
        id: '03',
        role: 'delegation',
        guns: [BENCH_GUNS],
        delegation: { roles: [BENCH_ROLE], paths: ['**'] },
      },
    ],
    clients: [
      {
        name: 'ci',
        token_sha256: hashToken(clientToken),
        sign: [
          {
            kind: 'delegation',
            keys: ['ci'],
            guns: [BENCH_GUNS],
            roles: [BENCH_ROLE],
            paths: ['**'],
          },
        ],
      },
    ],
  };
  const config = join(dir, 'daemon.yaml');
  writeFileSync(config, stringify(doc), { mode: 0o600 });
  const registry = new TokenRegistry(loadConfig(config, join(ROOT, 'hsm-profiles')));
  try {
    await registry.generateKey('soft', 'ci', '03');
  } finally {
    await registry.close();
  }
  return { dir, config, clientToken, token, keyLabel: 'ci', module };
}

// ---------------------------------------------------------------------------------------
// The daemon process

/** How much of the daemon's log the bench keeps (the end), for error messages. */
const LOG_TAIL_BYTES = 16 * 1024;

export interface DaemonProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** The end of the daemon's log (stderr, JSON lines). */
  logTail(): string;
  /**
   * Starts collecting the `ms` of the daemon's access-log lines for `route` (its own time,
   * Koa middleware in to out); `take()` stops and returns them.
   */
  collectRequestMs(route: string): { take(): number[] };
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null: killed). */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts bin/notary-hsmd on `config` on a free 127.0.0.1 port and waits until it listens.
 * Its log (stderr, one JSON line per request at level info) goes to a pipe, as it would
 * to journald under systemd; the bench drains it and keeps only the end. `cpuProfDir`
 * runs it (and its module host, which inherits execArgv) under --cpu-prof.
 */
export async function startDaemonProcess(
  config: string,
  opts: { cpuProfDir?: string; startMs?: number } = {},
): Promise<DaemonProcess> {
  const nodeArgs = opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, BIN, 'serve', '--config', config, '--listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let tail = '';
  let collecting: { route: string; ms: number[]; partial: string } | undefined;
  child.stderr?.on('data', (d: Buffer) => {
    const text = d.toString('utf8');
    tail += text;
    if (tail.length > 2 * LOG_TAIL_BYTES) tail = tail.slice(-LOG_TAIL_BYTES);
    if (collecting) {
      const lines = (collecting.partial + text).split('\n');
      collecting.partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.includes('"http_request"')) continue;
        try {
          const rec = JSON.parse(line) as { route?: unknown; ms?: unknown };
          if (rec.route === collecting.route && typeof rec.ms === 'number')
            collecting.ms.push(rec.ms);
        } catch {
          // not a JSON line
        }
      }
    }
  });
  const collectRequestMs = (route: string): { take(): number[] } => {
    const c = { route, ms: [] as number[], partial: '' };
    collecting = c;
    return {
      take: () => {
        if (collecting === c) collecting = undefined;
        return c.ms;
      },
    };
  };
  const logTail = (): string => tail.slice(-LOG_TAIL_BYTES);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  let done = false;
  const stop = async (graceMs = 15_000): Promise<number | null> => {
    if (!done) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return exited;
  };
  const tracked = { child, stop };
  daemons.add(tracked);
  void exited.then(() => {
    done = true;
    daemons.delete(tracked);
  });
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`notary-hsmd did not start; the end of its log:\n${logTail()}`)),
      opts.startMs ?? 20_000,
    );
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(`http://${m[1]}`);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`notary-hsmd exited with ${String(code)}; the end of its log:\n${logTail()}`));
    });
  });
  return { url, child, logTail, collectRequestMs, stop };
}

/** A further key on a bench setup's token. */
export interface BenchKey {
  readonly name: string;
  /** CKA_ID, hex. */
  readonly id: string;
  readonly role: 'root' | 'targets' | 'delegation';
  readonly delegation?: { roles: string[]; paths: string[] };
}

/**
 * Adds to `setup`'s configuration root and targets keys (`root`, CKA_ID 01; `targets`, 02)
 * with an admin client that signs with them, and `extra` keys and clients (for
 * BENCH_GUNS), then generates the keys on the setup's token. Returns the admin's token.
 */
export async function addAdminKeys(
  setup: DaemonSetup,
  extra: { keys?: readonly BenchKey[]; clients?: readonly Record<string, unknown>[] } = {},
): Promise<string> {
  const adminToken = newClientToken();
  const doc = parse(readFileSync(setup.config, 'utf8')) as {
    keys: Record<string, unknown>[];
    clients: Record<string, unknown>[];
  };
  const guns = [BENCH_GUNS];
  const keys: BenchKey[] = [
    { name: 'root', id: '01', role: 'root' },
    { name: 'targets', id: '02', role: 'targets' },
    ...(extra.keys ?? []),
  ];
  doc.keys.push(...keys.map((k) => ({ ...k, token: 'soft', label: k.name, guns })));
  doc.clients.push(
    {
      name: 'admin',
      token_sha256: hashToken(adminToken),
      admin: true,
      sign: [
        { kind: 'root', keys: ['root'], guns },
        { kind: 'targets', keys: ['targets'], guns },
      ],
    },
    ...(extra.clients ?? []),
  );
  writeFileSync(setup.config, stringify(doc), { mode: 0o600 });
  const registry = new TokenRegistry(loadConfig(setup.config, join(ROOT, 'hsm-profiles')));
  try {
    for (const k of keys) await registry.generateKey('soft', k.name, k.id);
  } finally {
    await registry.close();
  }
  return adminToken;
}
