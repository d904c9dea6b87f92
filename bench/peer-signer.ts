/**
 * notary-signer (Notary's own gRPC signing service, /usr/bin/notary-signer from the Debian
 * `notary` package) for bench/peer: started on a free 127.0.0.1 port with mutual TLS (the
 * bench's test CA; client certificates required) and in-memory key storage. The 0.7.0
 * binary still wants a default alias and that alias's passphrase in its environment
 * (NOTARY_SIGNER_DEFAULT_ALIAS, NOTARY_SIGNER_<ALIAS>) even for the memory backend: a
 * random passphrase made here, never printed. Its log (stderr) is drained and only the end
 * kept, for error messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { PeerTls } from './peer-tls';
import { freePort } from '../test/helpers/ports';

export const NOTARY_SIGNER = '/usr/bin/notary-signer';
const LOG_TAIL = 16 * 1024;
const ALIAS = 'bench';

export interface SignerProcess {
  /** host:port */
  readonly addr: string;
  readonly child: ChildProcess;
  logTail(): string;
  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit code or the signal's name. */
  stop(graceMs?: number): Promise<string>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/** Starts notary-signer in `dir` and waits until its port accepts connections. */
export async function startNotarySigner(
  dir: string,
  tls: PeerTls,
  opts: { logLevel: string; startMs?: number },
): Promise<SignerProcess> {
  if (!existsSync(NOTARY_SIGNER)) {
    throw new Error(
      `${NOTARY_SIGNER} is missing: scripts/install-deps.sh installs the notary package`,
    );
  }
  const port = await freePort();
  const config = join(dir, 'signer.json');
  writeFileSync(
    config,
    JSON.stringify({
      server: {
        grpc_addr: `127.0.0.1:${port}`,
        tls_cert_file: tls.serverCert,
        tls_key_file: tls.serverKey,
        client_ca_file: tls.caCert,
      },
      logging: { level: opts.logLevel },
      storage: { backend: 'memory' },
    }),
    { mode: 0o600 },
  );
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NOTARY_SIGNER_DEFAULT_ALIAS: ALIAS,
    [`NOTARY_SIGNER_${ALIAS.toUpperCase()}`]: randomBytes(18).toString('base64url'),
  };
  const child = spawn(NOTARY_SIGNER, ['-config', config, '-logf', 'json'], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (d: Buffer): void => {
    tail += d.toString('utf8');
    if (tail.length > 2 * LOG_TAIL) tail = tail.slice(-LOG_TAIL);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<string>((res) =>
    child.once('exit', (code, signal) => res(code === null ? String(signal) : String(code))),
  );
  // never left running after the bench, however it ends
  const killNow = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killNow);
  let done = false;
  void exited.then(() => {
    done = true;
    process.removeListener('exit', killNow);
  });
  const stop = async (graceMs = 5000): Promise<string> => {
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
  const logTail = (): string => tail.slice(-LOG_TAIL);
  const deadline = Date.now() + (opts.startMs ?? 15_000);
  for (;;) {
    if (done) throw new Error(`notary-signer exited at start; the end of its log:\n${logTail()}`);
    if (await portOpen(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`notary-signer did not listen; the end of its log:\n${logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { addr: `127.0.0.1:${port}`, child, logTail, stop };
}
