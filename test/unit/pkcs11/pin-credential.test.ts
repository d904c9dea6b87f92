/**
 * `pin: credential:NAME`: the PIN is the file NAME in $CREDENTIALS_DIRECTORY (where
 * systemd's LoadCredential= puts it), read at login; no directory, no file or an empty
 * file is PIN_REQUIRED, and no message carries the PIN.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pinSource } from '../../../src/pkcs11/pin';
import type { NotaryHsmError } from '../../../src/errors';

const PIN = '7305194628';

describe('credential: PIN source', () => {
  const dir = mkdtempSync(join(tmpdir(), 'creds-'));
  writeFileSync(join(dir, 'notary-hsm_ci-pin'), `${PIN}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'notary-hsm_empty'), '', { mode: 0o600 });

  it('reads the credential from $CREDENTIALS_DIRECTORY without its trailing newline', async () => {
    const src = pinSource('credential:notary-hsm_ci-pin', { CREDENTIALS_DIRECTORY: dir });
    expect(src.perRequest).toBe(false);
    expect(src.description).toBe('systemd credential notary-hsm_ci-pin');
    await expect(src.read()).resolves.toBe(PIN);
  });

  it('is PIN_REQUIRED when CREDENTIALS_DIRECTORY is unset, naming LoadCredential=', async () => {
    const err = await pinSource('credential:notary-hsm_ci-pin', {})
      .read()
      .catch((e: unknown) => e);
    expect(err).toThrowWithCode('PIN_REQUIRED');
    expect((err as NotaryHsmError).message).toContain('LoadCredential=');
  });

  it.each([['notary-hsm_missing'], ['notary-hsm_empty']])(
    'is PIN_REQUIRED for %s and never shows a PIN',
    async (name) => {
      const err = await pinSource(`credential:${name}`, { CREDENTIALS_DIRECTORY: dir })
        .read()
        .catch((e: unknown) => e);
      expect(err).toThrowWithCode('PIN_REQUIRED');
      expect((err as NotaryHsmError).message).toContain(name);
      expect((err as NotaryHsmError).message).not.toContain(PIN);
    },
  );

  it.each([['../etc/shadow'], ['a/b'], ['..'], ['']])('refuses the name %j', (name) => {
    expect(() => pinSource(`credential:${name}`, {})).toThrowWithCode('USAGE');
  });
});
