/**
 * Where the CLI's signatures come from: notary-hsmd at `--signer URL` (env
 * NOTARY_HSM_SIGNER, default http://127.0.0.1:7468), authenticated with the bearer token
 * from `--token-file` or NOTARY_HSM_TOKEN. The token is read once and never printed.
 */
import { readFileSync } from 'node:fs';
import { DaemonClient } from '../client/daemon-client';
import { NotaryHsmError } from '../errors';
import type { Io } from './context';

export const DEFAULT_SIGNER = 'http://127.0.0.1:7468';

export interface SignerFlags {
  signer?: string;
  tokenFile?: string;
}

/** `timeoutMs`: a shorter deadline per request than the default. throws: USAGE when no token is available */
export function daemonFrom(
  flags: SignerFlags,
  io: Io,
  opts: { timeoutMs?: number } = {},
): DaemonClient {
  const url = flags.signer ?? io.env.NOTARY_HSM_SIGNER ?? DEFAULT_SIGNER;
  let token: string | undefined;
  if (flags.tokenFile) {
    try {
      token = readFileSync(flags.tokenFile, 'utf8').trim();
    } catch (cause) {
      throw new NotaryHsmError('USAGE', `cannot read --token-file ${flags.tokenFile}`, { cause });
    }
  } else {
    token = io.env.NOTARY_HSM_TOKEN?.trim();
  }
  if (!token) {
    throw new NotaryHsmError(
      'USAGE',
      'no client token: pass --token-file FILE or set NOTARY_HSM_TOKEN',
    );
  }
  return new DaemonClient({
    url,
    token,
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: Math.min(60_000, opts.timeoutMs) }),
  });
}

/** Adds --signer and --token-file to a command. */
export function withSignerOptions<T extends { option(flags: string, description: string): T }>(
  cmd: T,
): T {
  return cmd
    .option('--signer <url>', `notary-hsmd URL (env NOTARY_HSM_SIGNER, default ${DEFAULT_SIGNER})`)
    .option('--token-file <file>', 'file holding the client bearer token (env NOTARY_HSM_TOKEN)');
}
