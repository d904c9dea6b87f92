/**
 * What every command shares: where output goes, the Notary server options (flag, then
 * environment), and the mapping from failures to exit codes (0 ok, 1 failure, 2 usage).
 */
import { readFileSync } from 'node:fs';
import { NotaryHsmError } from '../errors';
import type * as Notary from '../notary';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
  env: process.env,
};

export interface ServerFlags {
  server?: string;
  tlscacert?: string;
}

/** The Notary server from `--server` or NOTARY_HSM_SERVER. throws: USAGE */
export function serverFrom(flags: ServerFlags, io: Io): Notary.NotaryServerClient {
  const url = flags.server ?? io.env.NOTARY_HSM_SERVER;
  if (!url) {
    throw new NotaryHsmError(
      'USAGE',
      'no Notary server given: pass --server URL or set NOTARY_HSM_SERVER',
    );
  }
  let ca: Buffer | undefined;
  if (flags.tlscacert) {
    try {
      ca = readFileSync(flags.tlscacert);
    } catch (cause) {
      throw new NotaryHsmError('USAGE', `cannot read --tlscacert ${flags.tlscacert}`, { cause });
    }
  }
  // Loaded here, not at start-up: `--version`, help and daemon-only commands need no server client.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NotaryServerClient: Client } = require('../notary') as typeof Notary;
  return new Client(ca ? { url, ca } : { url });
}

/** Exit code for a failure: 2 for usage errors, 1 for everything else. */
export function exitCodeFor(err: unknown): number {
  return err instanceof NotaryHsmError && err.code === 'USAGE' ? 2 : 1;
}
