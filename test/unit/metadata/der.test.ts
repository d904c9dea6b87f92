/**
 * The certificate fields read without an x509 library (metadata/der.ts): the subject CN
 * as Go's crypto/x509 fills Subject.CommonName (the last CN attribute), and the outer
 * signature algorithm, on certificates made by OpenSSL; truncated input reads as nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signatureAlgorithmOid, subjectCommonName } from '../../../src/metadata/der';
import { pemBlocks } from '../../../src/metadata/pem';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'notary-hsm-der-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed EC certificate with `subject` (OpenSSL's /A=b/C=d form, `\\/` for a slash), as DER. */
function certificate(subject: string, digest = 'sha256', extra: string[] = []): Buffer {
  const out = join(dir, `${Math.random().toString(36).slice(2)}.pem`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, 'k.pem'), '-out', out, '-days', '1', '-subj', subject, `-${digest}`,
    ...extra,
  ], { stdio: 'ignore' }); // prettier-ignore
  return pemBlocks(readFileSync(out, 'utf8'), 'CERTIFICATE')[0] as Buffer;
}

describe('subjectCommonName', () => {
  it('reads the CN of a one-name subject', () => {
    expect(subjectCommonName(certificate('/CN=localhost:5000\\/team\\/app'))).toBe(
      'localhost:5000/team/app',
    );
  });

  it('takes the last CN, as Go does, and ignores other attributes', () => {
    const der = certificate(
      '/O=acme/CN=registry.example.com\\/first/CN=registry.example.com\\/last',
    );
    expect(subjectCommonName(der)).toBe('registry.example.com/last');
  });

  it('reads a UTF8String CN', () => {
    expect(subjectCommonName(certificate('/CN=example.com\\/é', 'sha256', ['-utf8']))).toBe(
      'example.com/é',
    );
  });

  it('has no CN for a subject without one, or for truncated bytes', () => {
    expect(subjectCommonName(certificate('/O=acme'))).toBeUndefined();
    const der = certificate('/CN=a');
    for (const cut of [1, 10, 100, der.length - 1]) {
      expect(() => subjectCommonName(der.subarray(0, cut))).not.toThrow();
    }
    expect(subjectCommonName(der.subarray(0, 100))).toBeUndefined();
  });
});

describe('signatureAlgorithmOid', () => {
  it('names ecdsa-with-SHA256 and ecdsa-with-SHA1', () => {
    expect(signatureAlgorithmOid(certificate('/CN=a'))).toBe('1.2.840.10045.4.3.2');
    expect(signatureAlgorithmOid(certificate('/CN=a', 'sha1'))).toBe('1.2.840.10045.4.1');
  });
});
