/**
 * Where a token's PIN comes from: a file, a systemd credential (a file in
 * $CREDENTIALS_DIRECTORY, named by its ID), an environment variable, or the request itself (for root
 * tokens whose PIN must not rest on disk). A PIN is read when a login needs it and is
 * never logged, put in an error message, or kept by this module.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotaryHsmError } from '../errors';

export type PinSourceSpec = `file:${string}` | `env:${string}` | `credential:${string}` | 'request';

/** A systemd credential ID: a file name (no `/`, not `.` or `..`). */
const CREDENTIAL_NAME = /^(?!\.\.?$)[A-Za-z0-9._@:-]{1,255}$/;

/** Reads a PIN file: its text without one trailing newline. throws: PIN_REQUIRED */
async function readPinFile(path: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new NotaryHsmError('PIN_REQUIRED', `cannot read ${what}`);
  }
  const pin = text.replace(/\r?\n$/, '');
  if (!pin) throw new NotaryHsmError('PIN_REQUIRED', `${what} is empty`);
  return pin;
}

export interface PinSource {
  /** What the source is, for messages (never the PIN). */
  readonly description: string;
  /** True when the PIN must come with each request. */
  readonly perRequest: boolean;
  /** throws: PIN_REQUIRED when the source has no PIN */
  read(): Promise<string>;
}

/** throws: USAGE for a spec that is none of file:, env:, credential:, request */
export function pinSource(spec: string, env: NodeJS.ProcessEnv = process.env): PinSource {
  if (spec === 'request') {
    return {
      description: 'the request',
      perRequest: true,
      read: () =>
        Promise.reject(
          new NotaryHsmError('PIN_REQUIRED', 'this token takes its PIN with each request'),
        ),
    };
  }
  if (spec.startsWith('env:')) {
    const name = spec.slice(4);
    return {
      description: `environment variable ${name}`,
      perRequest: false,
      read: () => {
        const v = env[name];
        return v
          ? Promise.resolve(v)
          : Promise.reject(
              new NotaryHsmError('PIN_REQUIRED', `environment variable ${name} is not set`),
            );
      },
    };
  }
  if (spec.startsWith('file:')) {
    const path = spec.slice(5);
    return {
      description: `file ${path}`,
      perRequest: false,
      read: () => readPinFile(path, `the PIN file ${path}`),
    };
  }
  if (spec.startsWith('credential:')) {
    const name = spec.slice('credential:'.length);
    if (!CREDENTIAL_NAME.test(name)) {
      throw new NotaryHsmError('USAGE', `credential:${name}: not a systemd credential name`);
    }
    return {
      description: `systemd credential ${name}`,
      perRequest: false,
      read: () => {
        // Read at login, not at load: systemd sets it for the service's processes only.
        const dir = env.CREDENTIALS_DIRECTORY;
        if (!dir) {
          return Promise.reject(
            new NotaryHsmError(
              'PIN_REQUIRED',
              `credential ${name}: CREDENTIALS_DIRECTORY is not set (the unit loads credentials with LoadCredential=)`,
              { details: { reason: 'credentials-directory-unset' } },
            ),
          );
        }
        return readPinFile(join(dir, name), `the credential ${name} in ${dir}`);
      },
    };
  }
  throw new NotaryHsmError(
    'USAGE',
    'a PIN source is file:PATH, env:NAME, credential:NAME or request (PINs are never inline)',
  );
}
