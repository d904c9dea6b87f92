/**
 * Where the CLI's signatures come from: notary-hsmd at `--signer` (env NOTARY_HSM_SIGNER,
 * default http://127.0.0.1:7468) — `http://` on loopback, `unix:/path` for a local
 * daemon's socket (the ssh-agent way: the socket file's permissions decide who may
 * connect), or `https://` with the daemon's CA (`--signer-cacert`) and a client
 * certificate (`--signer-cert`, `--signer-key`) for a signing host reached over the
 * network (mutual TLS). The bearer token comes from `--token-file` or NOTARY_HSM_TOKEN; it
 * is read once and never printed, and a token file that others may read or write is
 * refused (TOKEN_FILE_INSECURE), as ssh refuses such a key.
 */
import { readFileSync, statSync } from 'node:fs';
import { DaemonClient } from '../client/daemon-client';
import { NotaryHsmError } from '../errors';
import { readFlagFile, type Io } from './context';

export const DEFAULT_SIGNER = 'http://127.0.0.1:7468';

export interface SignerFlags {
  signer?: string;
  tokenFile?: string;
  signerCacert?: string;
  signerCert?: string;
  signerKey?: string;
}

/**
 * The bearer token in `file`, which only its owner may read or write.
 * throws: USAGE (unreadable, empty), TOKEN_FILE_INSECURE
 */
export function readTokenFile(file: string): string {
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `cannot read --token-file ${file}`, { cause });
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new NotaryHsmError(
      'TOKEN_FILE_INSECURE',
      `--token-file ${file} is accessible by others (mode ${octal}); a client token must be ` +
        `readable by its owner only: chmod 600 ${file}`,
      { details: { file, mode: octal } },
    );
  }
  return text.trim();
}

/** `timeoutMs`: a shorter deadline per request than the default. throws: USAGE when no token is available, TOKEN_FILE_INSECURE */
export function daemonFrom(
  flags: SignerFlags,
  io: Io,
  opts: { timeoutMs?: number } = {},
): DaemonClient {
  const url = flags.signer ?? io.env.NOTARY_HSM_SIGNER ?? DEFAULT_SIGNER;
  const token = flags.tokenFile ? readTokenFile(flags.tokenFile) : io.env.NOTARY_HSM_TOKEN?.trim();
  if (!token) {
    throw new NotaryHsmError(
      'USAGE',
      'no client token: pass --token-file FILE or set NOTARY_HSM_TOKEN',
    );
  }
  const file = (flag: string, value: string | undefined, env: string): Buffer | undefined => {
    const name = value ?? io.env[env];
    return name ? readFlagFile(flag, name) : undefined;
  };
  const ca = file('--signer-cacert', flags.signerCacert, 'NOTARY_HSM_SIGNER_CACERT');
  const cert = file('--signer-cert', flags.signerCert, 'NOTARY_HSM_SIGNER_CERT');
  const key = file('--signer-key', flags.signerKey, 'NOTARY_HSM_SIGNER_KEY');
  if ((cert === undefined) !== (key === undefined)) {
    throw new NotaryHsmError('USAGE', '--signer-cert and --signer-key go together');
  }
  if ((ca ?? cert) !== undefined && !url.startsWith('https:')) {
    throw new NotaryHsmError(
      'USAGE',
      `--signer-cacert, --signer-cert and --signer-key are for an https:// signer, not ${url.startsWith('unix:') ? 'a Unix socket' : 'http'}`,
    );
  }
  return new DaemonClient({
    url,
    token,
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: Math.min(60_000, opts.timeoutMs) }),
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    onTouchWait: (message) => io.err(`notary-hsm: ${message}`),
  });
}

/** Adds --signer, --token-file and the signer's TLS options to a command. */
export function withSignerOptions<T extends { option(flags: string, description: string): T }>(
  cmd: T,
): T {
  return cmd
    .option(
      '--signer <url>',
      `notary-hsmd: http://127.0.0.1:PORT, unix:/path or https://host:PORT (env NOTARY_HSM_SIGNER, default ${DEFAULT_SIGNER})`,
    )
    .option(
      '--token-file <file>',
      'file holding the client bearer token, mode 600 (env NOTARY_HSM_TOKEN)',
    )
    .option(
      '--signer-cacert <file>',
      'CA certificate of an https signer (env NOTARY_HSM_SIGNER_CACERT)',
    )
    .option(
      '--signer-cert <file>',
      'client certificate for an https signer, PEM (env NOTARY_HSM_SIGNER_CERT)',
    )
    .option(
      '--signer-key <file>',
      'key of the client certificate, PEM (env NOTARY_HSM_SIGNER_KEY)',
    );
}
