/**
 * notary-hsmd for integration tests: a configuration with a SoftHSM2 token in a private
 * directory (root, targets and a `targets/ci` delegation key generated on it), an admin
 * client and a CI client limited to one delegation, and the real daemon binary (built
 * code) started on a free 127.0.0.1 port and stopped after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load';
import { TokenRegistry } from '../../src/pkcs11/registry';
import { hashToken, newClientToken } from '../../src/policy/clients';
import { createSoftHsmToken } from './softhsm';
import { makeTempDir } from './tmp';

const BIN = join(__dirname, '..', '..', 'bin', 'notary-hsmd');

export interface DaemonSetup {
  readonly dir: string;
  readonly config: string;
  readonly adminToken: string;
  readonly ciToken: string;
  readonly stateDir: string;
}

/** A key beyond root, targets and ci, generated on the same token (its CKA_ID must be new). */
export interface ExtraKey {
  readonly name: string;
  readonly id: string;
  readonly role: 'root' | 'targets' | 'delegation';
  readonly guns: string[];
  readonly delegation?: { roles: string[]; paths: string[] };
  /** One of the setup's extra tokens (default: the main token `soft`). */
  readonly token?: string;
}

/** Writes a configuration and generates its keys on a fresh SoftHSM2 token. */
export async function makeDaemonSetup(
  opts: {
    guns?: string[];
    ciPaths?: string[];
    extraKeys?: readonly ExtraKey[];
    /** More SoftHSM2 tokens, each in its own directory (stand-ins for several YubiKeys). */
    extraTokens?: readonly string[];
  } = {},
): Promise<DaemonSetup> {
  const dir = await makeTempDir('daemon-');
  const pin = '192837';
  const token = await createSoftHsmToken({ label: 'daemon-test', pin, soPin: '56473829', dir });
  writeFileSync(join(dir, 'token.pin'), `${pin}\n`, { mode: 0o600 });
  const extraTokens = [];
  for (const name of opts.extraTokens ?? []) {
    const t = await createSoftHsmToken({
      label: name,
      pin,
      soPin: '56473829',
      dir: join(dir, name),
    });
    extraTokens.push({
      name,
      profile: 'softhsm2',
      label: name,
      pin: 'file:token.pin',
      environment: { SOFTHSM2_CONF: t.conf },
    });
  }
  const adminToken = newClientToken();
  const ciToken = newClientToken();
  const guns = opts.guns ?? ['localhost:5000/e2e/*'];
  const doc = {
    listen: '127.0.0.1:0',
    state_dir: 'state',
    log: { level: 'info', format: 'json' },
    tokens: [
      {
        name: 'soft',
        profile: 'softhsm2',
        label: 'daemon-test',
        pin: 'file:token.pin',
        environment: { SOFTHSM2_CONF: token.conf },
      },
      ...extraTokens,
    ],
    keys: [
      { name: 'root', token: 'soft', label: 'root', id: '01', role: 'root', guns },
      { name: 'targets', token: 'soft', label: 'targets', id: '02', role: 'targets', guns },
      {
        name: 'ci',
        token: 'soft',
        label: 'ci',
        id: '03',
        role: 'delegation',
        guns,
        delegation: { roles: ['targets/ci'], paths: ['**'] },
      },
      ...(opts.extraKeys ?? []).map((k) => ({ ...k, token: k.token ?? 'soft', label: k.name })),
    ],
    clients: [
      {
        name: 'admin',
        token_sha256: hashToken(adminToken),
        admin: true,
        sign: [
          { kind: 'root', keys: ['root'], guns },
          { kind: 'targets', keys: ['targets'], guns },
        ],
      },
      {
        name: 'ci',
        token_sha256: hashToken(ciToken),
        sign: [
          {
            kind: 'delegation',
            keys: ['ci'],
            guns,
            roles: ['targets/ci'],
            paths: opts.ciPaths ?? ['v*'],
          },
        ],
      },
    ],
  };
  const config = join(dir, 'daemon.yaml');
  writeFileSync(config, stringify(doc));
  const registry = new TokenRegistry(loadConfig(config));
  try {
    for (const [label, id] of [
      ['root', '01'],
      ['targets', '02'],
      ['ci', '03'],
      ...(opts.extraKeys ?? []).map((k) => [k.name, k.id] as const),
    ]) {
      const token = opts.extraKeys?.find((k) => k.name === label)?.token ?? 'soft';
      await registry.generateKey(token, label, id);
    }
  } finally {
    await registry.close();
  }
  return { dir, config, adminToken, ciToken, stateDir: join(dir, 'state') };
}

/** Runs a bin/notary-hsmd administration command to its end: exit code and output. */
export function runDaemonCommand(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

/**
 * Forgets the audit checkpoint of `config`'s state directory (`notary-hsmd checkpoint
 * reset`), for tests that start again on an emptied state directory on purpose.
 */
export async function resetCheckpoint(config: string): Promise<void> {
  const r = await runDaemonCommand(['checkpoint', 'reset', '--config', config, '--yes']);
  if (r.code !== 0) throw new Error(`checkpoint reset failed (${String(r.code)}): ${r.err}`);
}

export interface DaemonProcess {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM and wait. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill9(): Promise<void>;
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * Starts bin/notary-hsmd with `config` on a free port (of 127.0.0.1, or `opts.listen`) and
 * waits until it listens; `opts.scheme` is the URL's scheme (https for a TLS listener).
 * For `opts.listen` `unix:/path` the url is that `unix:/path`.
 */
export async function startDaemonProcess(
  config: string,
  env: NodeJS.ProcessEnv = {},
  opts: { listen?: string; scheme?: 'http' | 'https' } = {},
): Promise<DaemonProcess> {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--config', config, '--listen', opts.listen ?? '127.0.0.1:0'],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`notary-hsmd did not start:\n${out}`)), 20_000);
    const check = (): void => {
      const m = /listening on (unix:\S+|127\.\d+\.\d+\.\d+:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        const where = m[1] as string;
        resolve(where.startsWith('unix:') ? where : `${opts.scheme ?? 'http'}://${where}`);
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`notary-hsmd exited with ${String(code)}:\n${out}`));
    });
  });
  return {
    url,
    child,
    output: () => out,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
