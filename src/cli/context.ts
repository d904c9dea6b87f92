/**
 * What every command shares: where output goes, the Notary server options (flag, then
 * environment), and the mapping from failures to exit codes (0 ok, 1 failure, 2 usage).
 */
import { readFileSync } from 'node:fs';
import { NotaryHsmError } from '../errors';
import type * as Notary from '../notary';
import type * as TokenAuth from '../notary/token-auth';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Whether stderr is a terminal (progress and colours, tty.ts); absent: it is not. */
  readonly errIsTty?: boolean;
  /** The terminal's width, when stderr is one. */
  readonly errColumns?: number;
  /** Writes to stderr as it is, without a line break (progress lines). */
  errRaw?(text: string): void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
  env: process.env,
  get errIsTty() {
    return process.stderr.isTTY;
  },
  get errColumns() {
    return process.stderr.columns;
  },
  errRaw: (t) => process.stderr.write(t),
};

export interface ServerFlags {
  server?: string;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** Reads a file named by a flag. throws: USAGE */
export function readFlagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `cannot read ${flag} ${file}`, { cause });
  }
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
  if ((flags.tlscert === undefined) !== (flags.tlskey === undefined)) {
    throw new NotaryHsmError('USAGE', '--tlscert and --tlskey go together');
  }
  // Loaded here, not at start-up: `--version`, help and daemon-only commands need no server client.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NotaryServerClient } = require('../notary') as typeof Notary;
  const { credentialsFromNotaryAuth } = require('../notary/token-auth') as typeof TokenAuth;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const credentials = credentialsFromNotaryAuth(io.env.NOTARY_AUTH);
  return new NotaryServerClient({
    url,
    ...(flags.tlscacert ? { ca: readFlagFile('--tlscacert', flags.tlscacert) } : {}),
    ...(flags.tlscert ? { cert: readFlagFile('--tlscert', flags.tlscert) } : {}),
    ...(flags.tlskey ? { key: readFlagFile('--tlskey', flags.tlskey) } : {}),
    ...(credentials === undefined ? {} : { credentials }),
  });
}

/** Exit code for a failure: 2 for usage errors, 1 for everything else. */
export function exitCodeFor(err: unknown): number {
  return err instanceof NotaryHsmError && err.code === 'USAGE' ? 2 : 1;
}
