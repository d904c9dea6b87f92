/**
 * HSM profiles are data: every shipped profile validates, the schema refuses unknown
 * keys and wrong types (all problems reported), hsm-profiles/schema.json is the schema
 * the code enforces, and module resolution takes the first candidate that exists.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  defaultProfileDir,
  loadProfile,
  profileSchema,
  resolveModule,
} from '../../../src/pkcs11/profile';

const DIR = defaultProfileDir();
const NAMES = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -5))
  .sort();

describe('HSM profiles', () => {
  it('ships the five device families, each with a capability note', () => {
    expect(NAMES).toEqual(['generic', 'softhsm2', 'yubihsm2', 'yubikey-opensc', 'yubikey-piv']);
    const readme = readFileSync(join(DIR, 'README.md'), 'utf8');
    for (const n of NAMES) expect(readme).toContain(`## ${n}`);
  });

  it.each(NAMES)('%s validates against the schema', (name) => {
    const p = loadProfile(name);
    expect(p.name).toBe(name);
    expect(p.signing.mechanism).toBe('ecdsa');
  });

  it('yubikey-piv knows ykcs11 2.x key IDs, slot 9c needing the PIN per signature, and pcscd advice', () => {
    const p = loadProfile('yubikey-piv');
    expect(p.keySlots).toEqual({ '01': '9a', '02': '9c', '03': '9d', '04': '9e', '19': 'f9' });
    expect(p.pin.everySignature).toEqual(['02']);
    expect(p.hints?.deviceError).toMatch(/pcscd/);
    expect(p.hints?.noReader).toMatch(/reader/);
  });

  it('refuses unknown keys and wrong types, reporting every problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'profiles-'));
    const text = readFileSync(join(DIR, 'softhsm2.yaml'), 'utf8')
      .replace('sessions: 2', 'sessions: two\ncolour: blue')
      .replace('possible: false', 'possible: false\n  speed: fast');
    writeFileSync(join(dir, 'softhsm2.yaml'), text);
    let err: unknown;
    try {
      loadProfile('softhsm2', dir);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'PROFILE_INVALID' });
    const problems = (err as { details: { problems: string[] } }).details.problems;
    expect(problems.join('\n')).toMatch(/sessions/);
    expect(problems.join('\n')).toMatch(/colour/);
    expect(problems.join('\n')).toMatch(/speed/);
  });

  it('refuses a profile name that is not a file name', () => {
    expect(() => loadProfile('../etc/passwd')).toThrowWithCode('PROFILE_INVALID');
    expect(() => loadProfile('absent')).toThrowWithCode('PROFILE_INVALID');
  });

  it('hsm-profiles/schema.json is the schema the code enforces (regenerate: UPDATE_SCHEMA=1 npx jest profile)', () => {
    const generated = JSON.stringify(z.toJSONSchema(profileSchema), null, 2) + '\n';
    const file = join(DIR, 'schema.json');
    if (process.env.UPDATE_SCHEMA === '1') writeFileSync(file, generated);
    expect(readFileSync(file, 'utf8')).toBe(generated);
  });

  it('resolves the first module candidate that exists, else MODULE_NOT_FOUND', () => {
    const p = loadProfile('yubikey-piv');
    const second = p.module.paths[1]!;
    expect(resolveModule(p, (x) => x === second)).toBe(second);
    expect(() => resolveModule(p, () => false)).toThrowWithCode('MODULE_NOT_FOUND');
  });
});
