/**
 * Where a token's PIN comes from: a file (e.g. a systemd credential under
 * $CREDENTIALS_DIRECTORY), an environment variable, or the request itself (for root
 * tokens whose PIN must not rest on disk). A PIN is read when a login needs it and is
 * never logged, put in an error message, or kept by this module.
 */
import { readFile } from 'node:fs/promises';
import { NotaryHsmError } from '../errors';

export type PinSourceSpec = `file:${string}` | `env:${string}` | 'request';

export interface PinSource {
  /** What the source is, for messages (never the PIN). */
  readonly description: string;
  /** True when the PIN must come with each request. */
  readonly perRequest: boolean;
  /** throws: PIN_REQUIRED when the source has no PIN */
  read(): Promise<string>;
}

/** throws: USAGE for a spec that is none of file:, env:, request */
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
      read: async () => {
        let text: string;
        try {
          text = await readFile(path, 'utf8');
        } catch {
          throw new NotaryHsmError('PIN_REQUIRED', `cannot read the PIN file ${path}`);
        }
        const pin = text.replace(/\r?\n$/, '');
        if (!pin) throw new NotaryHsmError('PIN_REQUIRED', `the PIN file ${path} is empty`);
        return pin;
      },
    };
  }
  throw new NotaryHsmError(
    'USAGE',
    'a PIN source is file:PATH, env:NAME or request (PINs are never inline)',
  );
}
