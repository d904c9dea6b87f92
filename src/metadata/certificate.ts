/**
 * Root certificates. Notary root keys are x509 certificates whose subject CN is the GUN:
 * self-signed, valid 10 years, key usage digitalSignature|keyEncipherment (critical),
 * extended key usage codeSigning, not a CA. We build the certificate and have it signed
 * through an async Signer, so the key may live in a token; the certificate's ECDSA
 * signature is DER as X.509 requires (the Signer's raw r‖s is converted by @peculiar/x509).
 * The checks below are the ones Notary applies before it trusts a root key.
 */
import { webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { NotaryHsmError } from '../errors';
import { signatureAlgorithmOid, subjectCommonName } from './der';
import type { Signer } from '../signer/signer';
import { TufKey } from './keys';

/** Root certificate lifetime: 10 × 365 days, as `notary init`. */
export const ROOT_CERT_DAYS = 3650;
const DAY_MS = 86_400_000;

// ASN.1 PrintableString characters. Go's encoding/asn1 writes a name with any other
// character (including the '*' of a wildcard GUN, and '&') as a UTF8String.
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** Signature algorithms over SHA-1 (RSA, ECDSA, DSA), which Notary refuses. */
const SHA1_SIGNATURES = new Set(['1.2.840.113549.1.1.5', '1.2.840.10045.4.1', '1.2.840.10040.4.3']);

/**
 * @peculiar/x509 (and the reflect polyfill it needs), loaded only when a certificate is
 * made: it costs ~130 ms of start-up that reading a certificate does not need.
 */
function loadX509(): typeof X509 {
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, not at start-up */
  require('reflect-metadata');
  return require('@peculiar/x509') as typeof X509;
  /* eslint-enable @typescript-eslint/no-require-imports */
}

/** A WebCrypto stand-in whose only private operation is an async Signer. */
function signerCrypto(signer: Signer): Crypto {
  const subtle = {
    sign: async (_alg: unknown, _key: unknown, data: BufferSource): Promise<ArrayBuffer> => {
      const bytes = ArrayBuffer.isView(data)
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : new Uint8Array(data);
      const sig = await signer.sign(bytes);
      return sig.buffer.slice(sig.byteOffset, sig.byteOffset + sig.byteLength) as ArrayBuffer;
    },
  };
  return {
    subtle: subtle as unknown as SubtleCrypto,
    getRandomValues: <T extends ArrayBufferView | null>(a: T): T =>
      webcrypto.getRandomValues(a as never),
    randomUUID: () => webcrypto.randomUUID(),
  };
}

export interface RootCertificateOptions {
  gun: string;
  signer: Signer;
  now?: Date;
  days?: number;
}

/**
 * Builds and signs the self-signed root certificate for `gun`; returns the `ecdsa-x509`
 * TUF key that wraps it (Go-exact PEM).
 * throws: KEY_UNSUPPORTED (not a P-256 signer), CERTIFICATE_INVALID (GUN unusable as CN)
 */
export async function createRootCertificate(opts: RootCertificateOptions): Promise<TufKey> {
  if (opts.signer.scheme !== 'ecdsa-p256') {
    throw new NotaryHsmError('KEY_UNSUPPORTED', 'root certificates are made for ECDSA P-256 keys');
  }
  // eslint-disable-next-line no-control-regex -- a GUN with control characters cannot be a CN
  if (opts.gun.length === 0 || /[\u0000-\u001f]/.test(opts.gun)) {
    throw new NotaryHsmError(
      'CERTIFICATE_INVALID',
      'a GUN is a non-empty name without control characters',
    );
  }
  const x509 = loadX509();
  const now = opts.now ?? new Date();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const cn = PRINTABLE.test(opts.gun) ? { printableString: opts.gun } : { utf8String: opts.gun };
  const name: X509.JsonNameParams = [{ CN: [cn] }];
  const signingKey = {
    algorithm: { name: 'ECDSA', namedCurve: 'P-256' },
    type: 'private',
    extractable: false,
    usages: ['sign'],
  } as unknown as CryptoKey;
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: new x509.Name(name),
      issuer: new x509.Name(name),
      notBefore,
      notAfter: new Date(notBefore.getTime() + (opts.days ?? ROOT_CERT_DAYS) * DAY_MS),
      publicKey: new Uint8Array(opts.signer.publicKeySpki),
      signingKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
      extensions: [
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning], false),
        new x509.BasicConstraintsExtension(false, undefined, true),
      ],
    },
    signerCrypto(opts.signer),
  );
  return TufKey.ecdsaX509(new Uint8Array(cert.rawData));
}

/**
 * The subject common name of an x509 TUF key's leaf certificate, as Go reads it (the last
 * string-valued CN attribute).
 */
export function certificateCommonName(key: TufKey): string | undefined {
  return subjectCommonName(key.certificate().raw);
}

/** Notary's CN rule: exact match, or a `prefix*` wildcard. */
export function commonNameMatchesGun(cn: string, gun: string): boolean {
  if (cn === gun) return true;
  return cn.endsWith('*') && gun.startsWith(cn.slice(0, -1));
}

/**
 * Notary's checks on a root key before it counts: an x509 key whose leaf is not a CA,
 * whose CN matches the GUN, valid at `now` (one day of leeway on notBefore), not
 * SHA-1 signed.
 * throws: CERTIFICATE_INVALID, KEY_INVALID
 */
export function checkRootKey(key: TufKey, gun: string, now: Date = new Date()): void {
  const fail = (why: string): never => {
    throw new NotaryHsmError('CERTIFICATE_INVALID', `root key ${key.id}: ${why}`, {
      details: { keyId: key.id },
    });
  };
  if (!key.isX509) fail(`a root key must be an x509 certificate, not ${key.keytype}`);
  const cert = key.certificate();
  if (cert.ca) fail('the leaf certificate is a CA');
  const cn = certificateCommonName(key);
  if (cn === undefined || !commonNameMatchesGun(cn, gun)) {
    fail(`certificate CN ${JSON.stringify(cn ?? '')} does not match GUN ${JSON.stringify(gun)}`);
  }
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  if (!(from <= to)) fail('the certificate validity window is inverted');
  if (now.getTime() + DAY_MS < from) fail(`the certificate is not valid before ${cert.validFrom}`);
  if (now.getTime() > to) fail(`the certificate expired at ${cert.validTo}`);
  if (SHA1_SIGNATURES.has(signatureAlgorithmOid(cert.raw) ?? '')) {
    fail('the certificate is SHA-1 signed');
  }
}
