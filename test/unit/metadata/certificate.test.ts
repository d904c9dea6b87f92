/**
 * Proves root certificates are what `notary init` makes and what Notary accepts. A
 * certificate built through a test Signer is an `ecdsa-x509` TUF key whose PEM is Go's
 * exact layout, and OpenSSL reads it as: CN = GUN (PrintableString, or UTF8String where
 * Go uses one), 3650 days of validity, Key Usage critical Digital Signature + Key
 * Encipherment, Extended Key Usage Code Signing, Basic Constraints critical CA:FALSE,
 * ecdsa-with-SHA256, and a valid self-signature (`openssl verify -check_ss_sig` and
 * Node). checkRootKey accepts it for its GUN and for a `prefix*` wildcard, and refuses
 * another GUN, an expired or not-yet-valid certificate, a bare key, a CA certificate and
 * a SHA-1 signature with CERTIFICATE_INVALID; the reference root certificate passes for
 * its GUN at capture time only.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNotaryHsmError } from '../../../src/errors';
import { canonicalJson } from '../../../src/metadata/canonical';
import {
  certificateCommonName,
  checkRootKey,
  commonNameMatchesGun,
  createRootCertificate,
  ROOT_CERT_DAYS,
} from '../../../src/metadata/certificate';
import { TufKey } from '../../../src/metadata/keys';
import { goPem, pemBlocks } from '../../../src/metadata/pem';
import { parseMetadata } from '../../../src/metadata/signed';
import { MemorySigner } from '../../helpers/memory-signer';
import { REFERENCE_GUN, REFERENCE_NOW, STAGES, vector } from '../../helpers/vectors';

const GUN = REFERENCE_GUN;
const NOW = new Date('2026-11-22T00:00:30.700Z');
const NOT_BEFORE = new Date('2026-11-22T00:00:30.000Z');
const DAY = 86_400_000;
const NOT_AFTER = new Date(NOT_BEFORE.getTime() + ROOT_CERT_DAYS * DAY);

/** The code a promise rejects with (fails the test when it resolves or throws otherwise). */
async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isNotaryHsmError(err)) return err.code;
    throw err;
  }
  throw new Error('expected a rejection');
}

let dir: string;
const openssl = (...args: string[]): string =>
  execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const file = (name: string, content: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'notary-hsm-cert-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('createRootCertificate', () => {
  let signer: MemorySigner;
  let key: TufKey;
  let pem: string;
  let pemPath: string;

  beforeAll(async () => {
    signer = new MemorySigner();
    key = await createRootCertificate({ gun: GUN, signer, now: NOW });
    pem = key.public.toString('utf8');
    pemPath = file('root.pem', pem);
  });

  it('returns an ecdsa-x509 key, signed with exactly one signer call', () => {
    expect(key.keytype).toBe('ecdsa-x509');
    expect(key.isX509).toBe(true);
    expect(signer.count).toBe(1);
  });

  it('wraps the certificate in Go-exact PEM: 64-column lines, \\n, trailing newline', () => {
    expect(pem).toMatch(
      /^-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/]{64}\n)*[A-Za-z0-9+/=]{4,64}\n-----END CERTIFICATE-----\n$/,
    );
    expect(pem).not.toContain('\r');
    const der = pemBlocks(pem, 'CERTIFICATE');
    expect(der).toHaveLength(1);
    expect(goPem('CERTIFICATE', der[0] as Buffer)).toBe(pem);
    const lines = pem.split('\n').slice(1, -2);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.slice(0, -1).every((l) => l.length === 64)).toBe(true);
  });

  it('the key ID is the hash of the canonical key JSON over the PEM bytes', () => {
    const id = createHash('sha256')
      .update(
        canonicalJson({
          keytype: 'ecdsa-x509',
          keyval: { private: null, public: Buffer.from(pem).toString('base64') },
        }),
      )
      .digest('hex');
    expect(key.id).toBe(id);
  });

  it('the canonical ID is the ID of TufKey.ecdsa(signer SPKI), and differs from the certificate ID', () => {
    expect(key.canonicalId).toBe(TufKey.ecdsa(signer.publicKeySpki).id);
    expect(key.canonicalId).not.toBe(key.id);
  });

  it('certifies the signer public key', () => {
    const spki = key.certificate().publicKey.export({ format: 'der', type: 'spki' });
    expect(spki.equals(Buffer.from(signer.publicKeySpki))).toBe(true);
  });

  it('openssl reads CN = GUN, the Notary extensions and ecdsa-with-SHA256', () => {
    const text = openssl('x509', '-in', pemPath, '-noout', '-text');
    expect(text).toMatch(/Version: 3 \(0x2\)/);
    expect(text).toContain(`Subject: CN = ${GUN}\n`);
    expect(text).toContain(`Issuer: CN = ${GUN}\n`);
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
    expect(text).toMatch(/X509v3 Extended Key Usage: ?\n\s+Code Signing\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
    expect(text).not.toContain('Subject Key Identifier');
    expect(text).not.toContain('Authority Key Identifier');
    expect(text.match(/Signature Algorithm: ecdsa-with-SHA256/g)).toHaveLength(2);
    expect(text).toContain('NIST CURVE: P-256');
  });

  it('is valid from now (whole seconds) for 3650 days', () => {
    const dates = openssl('x509', '-in', pemPath, '-noout', '-startdate', '-enddate');
    expect(dates).toContain('notBefore=Nov 22 00:00:30 2026 GMT');
    expect(dates).toContain('notAfter=Nov 19 00:00:30 2036 GMT');
    const cert = key.certificate();
    expect(new Date(cert.validFrom).getTime()).toBe(NOT_BEFORE.getTime());
    expect(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()).toBe(3650 * DAY);
  });

  it('has a positive serial number of at most 128 bits', () => {
    const serial = key.certificate().serialNumber;
    expect(serial).toMatch(/^[0-9A-F]+$/);
    expect(serial.length).toBeLessThanOrEqual(34);
    expect(BigInt(`0x${serial}`) > 0n).toBe(true);
    expect(BigInt(`0x${serial}`) < 2n ** 128n).toBe(true);
  });

  it('carries a valid self-signature (openssl verify -check_ss_sig, and Node)', () => {
    expect(openssl('verify', '-check_ss_sig', '-CAfile', pemPath, pemPath)).toContain(': OK');
    const cert = new X509Certificate(pem);
    expect(cert.verify(cert.publicKey)).toBe(true);
  });

  it('a flipped signature byte is caught by the same checks (so they are not vacuous)', () => {
    const der = Buffer.from(pemBlocks(pem, 'CERTIFICATE')[0] as Buffer);
    der.writeUInt8(der.readUInt8(der.length - 1) ^ 1, der.length - 1);
    const badPath = file('bad.pem', goPem('CERTIFICATE', der));
    const r = spawnSync('openssl', ['verify', '-check_ss_sig', '-CAfile', badPath, badPath], {
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    const bad = new X509Certificate(der);
    expect(bad.verify(bad.publicKey)).toBe(false);
  });

  it('writes the CN as a PrintableString, as Go does for such a GUN', () => {
    expect(openssl('asn1parse', '-in', pemPath)).toContain(`PRINTABLESTRING   :${GUN}\n`);
  });

  it.each([
    ['localhost:5000/demo/*', 'UTF8STRING'],
    ['example.com/ns/a&b', 'UTF8STRING'],
    ['example.com/é', 'UTF8STRING'],
    ["example.com/it's (x)+=?,", 'PRINTABLESTRING'],
  ])('writes the CN %s as %s, as Go does', async (gun, tag) => {
    const k = await createRootCertificate({ gun, signer: new MemorySigner(), now: NOW });
    const parsed = openssl('asn1parse', '-in', file('cn.pem', k.public));
    expect(parsed).toMatch(new RegExp(`${tag}\\s+:`));
    expect(certificateCommonName(k)).toBe(gun);
  });

  it('honours a custom lifetime', async () => {
    const k = await createRootCertificate({
      gun: GUN,
      signer: new MemorySigner(),
      now: NOW,
      days: 1,
    });
    const c = k.certificate();
    expect(new Date(c.validTo).getTime() - new Date(c.validFrom).getTime()).toBe(DAY);
  });

  it('refuses an Ed25519 signer, an empty GUN and a GUN with control characters', async () => {
    expect(
      await rejectionCode(createRootCertificate({ gun: GUN, signer: new MemorySigner('ed25519') })),
    ).toBe('KEY_UNSUPPORTED');
    expect(
      await rejectionCode(createRootCertificate({ gun: '', signer: new MemorySigner() })),
    ).toBe('CERTIFICATE_INVALID');
    expect(
      await rejectionCode(createRootCertificate({ gun: 'a\nb', signer: new MemorySigner() })),
    ).toBe('CERTIFICATE_INVALID');
  });

  describe('checkRootKey', () => {
    it('accepts the certificate for its GUN throughout its validity', () => {
      expect(() => checkRootKey(key, GUN, NOW)).not.toThrow();
      expect(() => checkRootKey(key, GUN, NOT_AFTER)).not.toThrow();
      expect(certificateCommonName(key)).toBe(GUN);
    });

    it.each([
      ['localhost:5000/demo/other', 'another GUN'],
      ['localhost:5000/demo/app/x', 'a GUN extending it'],
      ['localhost:5000/demo/ap', 'a prefix of it'],
      ['LOCALHOST:5000/demo/app', 'the GUN in another case'],
      ['', 'an empty GUN'],
    ])('refuses it for %j (%s)', (gun) => {
      expect(() => checkRootKey(key, gun, NOW)).toThrowWithCode('CERTIFICATE_INVALID');
    });

    it('refuses it once expired (now after notAfter)', () => {
      expect(() => checkRootKey(key, GUN, new Date(NOT_AFTER.getTime() + 1000))).toThrowWithCode(
        'CERTIFICATE_INVALID',
      );
      expect(() => checkRootKey(key, GUN, new Date('2040-01-01T00:00:00Z'))).toThrowWithCode(
        'CERTIFICATE_INVALID',
      );
    });

    it('allows one day of clock skew before notBefore, and no more', () => {
      expect(() =>
        checkRootKey(key, GUN, new Date(NOT_BEFORE.getTime() - 23 * 3_600_000)),
      ).not.toThrow();
      expect(() => checkRootKey(key, GUN, new Date(NOT_BEFORE.getTime() - DAY))).not.toThrow();
      expect(() =>
        checkRootKey(key, GUN, new Date(NOT_BEFORE.getTime() - DAY - 1000)),
      ).toThrowWithCode('CERTIFICATE_INVALID');
      expect(() => checkRootKey(key, GUN, new Date('2026-01-01T00:00:00Z'))).toThrowWithCode(
        'CERTIFICATE_INVALID',
      );
    });

    it('refuses a bare ecdsa key and an ed25519 key of the same signer', () => {
      expect(() => checkRootKey(TufKey.ecdsa(signer.publicKeySpki), GUN, NOW)).toThrowWithCode(
        'CERTIFICATE_INVALID',
      );
      const ed = new MemorySigner('ed25519');
      expect(() => checkRootKey(TufKey.ed25519(ed.publicKeySpki), GUN, NOW)).toThrowWithCode(
        'CERTIFICATE_INVALID',
      );
    });

    it('accepts a prefix* wildcard certificate for GUNs under the prefix only', async () => {
      const wild = await createRootCertificate({
        gun: 'localhost:5000/demo/*',
        signer: new MemorySigner(),
        now: NOW,
      });
      for (const gun of [
        'localhost:5000/demo/app',
        'localhost:5000/demo/',
        'localhost:5000/demo/a/b',
      ]) {
        expect(() => checkRootKey(wild, gun, NOW)).not.toThrow();
      }
      for (const gun of ['localhost:5000/other/app', 'localhost:5000/demo', 'localhost:5000/dem']) {
        expect(() => checkRootKey(wild, gun, NOW)).toThrowWithCode('CERTIFICATE_INVALID');
      }
    });
  });
});

describe('checkRootKey with certificates made by OpenSSL', () => {
  const config = [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    `CN = ${GUN}`,
    '[ca]',
    'basicConstraints = critical,CA:TRUE',
    'keyUsage = critical,keyCertSign,digitalSignature',
    '[leaf]',
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage = codeSigning',
    '',
  ].join('\n');

  const make = (name: string, extensions: string, ...extra: string[]): TufKey => {
    const cnf = file('req.cnf', config);
    const out = join(dir, `${name}.pem`);
    openssl(
      'req',
      '-x509',
      '-config',
      cnf,
      '-extensions',
      extensions,
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      out,
      '-days',
      '30',
      ...extra,
    );
    const der = pemBlocks(readFileSync(out, 'utf8'), 'CERTIFICATE')[0] as Buffer;
    return TufKey.ecdsaX509(der);
  };

  it('accepts an OpenSSL leaf certificate for the GUN (the control case)', () => {
    expect(() => checkRootKey(make('leaf', 'leaf'), GUN, new Date())).not.toThrow();
  });

  it('refuses a CA certificate', () => {
    const ca = make('ca', 'ca');
    expect(ca.certificate().ca).toBe(true);
    expect(() => checkRootKey(ca, GUN, new Date())).toThrowWithCode('CERTIFICATE_INVALID');
  });

  it('refuses a SHA-1 signed certificate', () => {
    const sha1 = make('sha1', 'leaf', '-sha1');
    expect(openssl('x509', '-in', join(dir, 'sha1.pem'), '-noout', '-text')).toContain(
      'ecdsa-with-SHA1',
    );
    expect(() => checkRootKey(sha1, GUN, new Date())).toThrowWithCode('CERTIFICATE_INVALID');
  });
});

describe('the reference root certificates', () => {
  it.each(STAGES)('%s: the root key passes for its GUN at capture time only', (stage) => {
    const root = parseMetadata('root', vector(stage, 'root')).signed;
    const [key] = root.roleKeys('root');
    if (!key) throw new Error('no root key');
    expect(key.keytype).toBe('ecdsa-x509');
    expect(certificateCommonName(key)).toBe(REFERENCE_GUN);
    expect(() => checkRootKey(key, REFERENCE_GUN, REFERENCE_NOW)).not.toThrow();
    expect(() => checkRootKey(key, 'localhost:5000/demo/other', REFERENCE_NOW)).toThrowWithCode(
      'CERTIFICATE_INVALID',
    );
    expect(() =>
      checkRootKey(key, REFERENCE_GUN, new Date('2040-01-01T00:00:00Z')),
    ).toThrowWithCode('CERTIFICATE_INVALID');
    expect(key.public.toString('utf8')).toBe(
      goPem('CERTIFICATE', pemBlocks(key.public.toString('utf8'), 'CERTIFICATE')[0] as Buffer),
    );
  });

  it('the delegation certificates are not valid root keys for the GUN', () => {
    const targets = parseMetadata('targets', vector('final', 'targets')).signed;
    for (const key of targets.delegationKeys.values()) {
      expect(() => checkRootKey(key, REFERENCE_GUN, REFERENCE_NOW)).toThrowWithCode(
        'CERTIFICATE_INVALID',
      );
    }
  });
});

describe('commonNameMatchesGun', () => {
  it.each<[string, string, boolean]>([
    ['a/b', 'a/b', true],
    ['a/b', 'a/bc', false],
    ['a/b*', 'a/bc', true],
    ['a/b*', 'a/b', true],
    ['a/b*', 'a/', false],
    ['*', 'anything', true],
    ['a/*/c', 'a/x/c', false],
    ['', '', true],
    ['', 'a', false],
  ])('CN %j vs GUN %j → %s', (cn, gun, ok) => {
    expect(commonNameMatchesGun(cn, gun)).toBe(ok);
  });
});
