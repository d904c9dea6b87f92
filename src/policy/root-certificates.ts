/**
 * Which root certificates a daemon root key may sign for. A root signature carries no
 * GUN: root.json names its root keys by certificate, and a Notary client accepts a root
 * for GUN G when G's root role lists certificates whose CN names G (exactly, or with a
 * `prefix*` wildcard) and enough of their keys signed. A token key's signature over a
 * root that lists a certificate of that key for another GUN, or for a wildcard, is
 * therefore a valid root for that other GUN, whatever GUN the request named.
 *
 * So the daemon lends a root key's signature only when every certificate of that key in
 * the document (in `keys`, whether or not the root role lists it):
 * - is one certificate (no bundle), self-signed by that very key: since keys are born on
 *   the token and never leave it, and the daemon signs certificates only at
 *   certificates/root, where it builds them itself for an authorised GUN, such a
 *   certificate is one the daemon issued;
 * - names exactly the request's GUN as its subject and issuer CN (no wildcard);
 * - is not a CA, expires no later than the policy lets root metadata live (plus the clock
 *   skew), and — when the root role lists it — is valid now. A certificate the root keeps
 *   only from an earlier root (signing for the old root's threshold during a rotation)
 *   may have expired: Notary checks old roots without their expiry.
 * The signature is given once per such certificate, under that certificate's key ID
 * (after a certificate renewal a root may list the old and the new one).
 */
import type { X509Certificate } from 'node:crypto';
import { NotaryHsmError } from '../errors';
import { certificateCommonName } from '../metadata/certificate';
import type { TufKey } from '../metadata/keys';
import { certificatesFromPem } from '../metadata/pem';
import type { Root } from '../metadata/root';
import { quote } from './patterns';

const DAY_MS = 86_400_000;

export interface RootCertificatePolicy {
  readonly gun: string;
  readonly now: Date;
  /** The longest lifetime of root metadata, in days (a certificate may not outlive it). */
  readonly maxDays: number;
  readonly clockSkewSeconds: number;
}

function refused(keyId: string, why: string, details: Record<string, unknown> = {}): never {
  throw new NotaryHsmError('CERTIFICATE_INVALID', `root certificate ${keyId}: ${why}`, {
    details: { keyId, ...details },
  });
}

/** The leaf's SPKI DER, or undefined when the key is not a readable x509 key. */
function leafSpki(key: TufKey): Buffer | undefined {
  if (!key.isX509) return undefined;
  try {
    return key.publicKey().export({ format: 'der', type: 'spki' });
  } catch {
    return undefined; // a certificate we cannot read is not this key's
  }
}

/** Refuses a certificate of the signing key that the daemon would not have issued for the GUN. */
function checkIssued(
  id: string,
  key: TufKey,
  policy: RootCertificatePolicy,
  listed: boolean,
): void {
  const pem = key.public.toString('utf8');
  if (certificatesFromPem(pem).length !== 1) {
    refused(id, 'carries a certificate chain; the daemon issues single self-signed certificates');
  }
  const cert: X509Certificate = key.certificate();
  if (!cert.verify(cert.publicKey)) {
    refused(id, 'is not signed by its own key: the daemon did not issue it');
  }
  const cn = certificateCommonName(key);
  if (cn !== policy.gun) {
    refused(id, `names ${quote(cn ?? '')}, not exactly the GUN ${quote(policy.gun)}`, {
      commonName: quote(cn ?? ''),
    });
  }
  if (cert.issuer !== cert.subject) refused(id, 'has an issuer other than its subject');
  if (cert.ca) refused(id, 'is a CA certificate');
  const now = policy.now.getTime();
  const skew = policy.clockSkewSeconds * 1000;
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  if (!(from <= now + skew) || (listed && !(to > now))) {
    refused(id, `is not valid now (${cert.validFrom} to ${cert.validTo})`);
  }
  if (to > now + policy.maxDays * DAY_MS + skew) {
    refused(id, `is valid until ${cert.validTo}, beyond the ${policy.maxDays} days root may live`);
  }
}

/**
 * The key IDs under which the key with `spki` signs `root` for `policy.gun`: one per
 * certificate of that key in `root.keys`, each checked as the file comment says.
 * throws: CERTIFICATE_INVALID (a certificate of this key the daemon would not sign for),
 * KEY_NOT_FOUND (the root lists no certificate of this key)
 */
export function rootSignatureKeyIds(
  root: Root,
  spki: Uint8Array,
  policy: RootCertificatePolicy,
): string[] {
  const wanted = Buffer.from(spki);
  const listed = new Set(root.roles.get('root')?.keyIds ?? []);
  const ids: string[] = [];
  for (const [id, key] of root.keys) {
    if (!leafSpki(key)?.equals(wanted)) continue;
    checkIssued(id, key, policy, listed.has(id));
    ids.push(id);
  }
  if (ids.length === 0) {
    throw new NotaryHsmError(
      'KEY_NOT_FOUND',
      'the root metadata lists no certificate of this root key (ask certificates/root for one)',
    );
  }
  return ids;
}
