/**
 * Signature verification as Notary does it: a signature counts when its key ID names a
 * key of the role, its method fits that key's type, and it verifies over the canonical
 * bytes of `signed`; each key counts once; fewer than the threshold is an error naming
 * the role. Unknown methods and key types simply do not count.
 */
import { constants, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { NotaryHsmError } from '../errors';
import type { TufKey } from './keys';
import type { Signature } from './signed';

/** Which key types each signature method may be checked with. */
const METHOD_KEYTYPES: Readonly<Record<string, readonly string[]>> = {
  ecdsa: ['ecdsa', 'ecdsa-x509'],
  eddsa: ['ed25519'],
  rsapss: ['rsa', 'rsa-x509'],
  rsapkcs1v15: ['rsa', 'rsa-x509'],
};

const CURVE_BYTES: Readonly<Record<string, number>> = {
  prime256v1: 32,
  secp384r1: 48,
  secp521r1: 66,
};
const MIN_RSA_BITS = 2048;

/** The method our signatures carry for a key type. */
export function methodFor(keytype: string): string {
  if (keytype === 'ecdsa' || keytype === 'ecdsa-x509') return 'ecdsa';
  if (keytype === 'ed25519') return 'eddsa';
  throw new NotaryHsmError('KEY_UNSUPPORTED', `cannot sign for a ${keytype} key`);
}

function verifyWith(key: KeyObject, method: string, message: Uint8Array, sig: Uint8Array): boolean {
  switch (method) {
    case 'ecdsa': {
      const size = CURVE_BYTES[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (size === undefined || sig.length !== 2 * size) return false;
      return nodeVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, sig);
    }
    case 'eddsa':
      return sig.length === 64 && nodeVerify(null, message, key, sig);
    case 'rsapss':
    case 'rsapkcs1v15': {
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return false;
      const padding =
        method === 'rsapss' ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
      return nodeVerify('sha256', message, { key, padding, saltLength: 32 }, sig);
    }
    default:
      return false;
  }
}

/** True when `sig` is a valid signature of `message` by `key` with `method`. Never throws. */
export function verifySignature(
  key: TufKey,
  method: string,
  message: Uint8Array,
  sig: Uint8Array,
): boolean {
  // Own members only: a method named "constructor" or "__proto__" must not reach Object.prototype.
  const keytypes = Object.hasOwn(METHOD_KEYTYPES, method) ? METHOD_KEYTYPES[method] : undefined;
  if (!keytypes?.includes(key.keytype)) return false;
  try {
    return verifyWith(key.publicKey(), method, message, sig);
  } catch {
    return false;
  }
}

/** Who must have signed: a role's keys and threshold. */
export interface Requirement {
  readonly role: string;
  readonly keys: readonly TufKey[];
  readonly threshold: number;
}

/**
 * Checks that `signatures` over `message` meet `req`; returns the IDs of the keys that
 * signed validly.
 * throws: THRESHOLD_NOT_MET
 */
export function verifyThreshold(
  message: Uint8Array,
  signatures: readonly Signature[],
  req: Requirement,
): string[] {
  const byId = new Map(req.keys.map((k) => [k.id, k]));
  const valid: string[] = [];
  for (const s of signatures) {
    const key = byId.get(s.keyid);
    if (!key || valid.includes(s.keyid)) continue;
    if (verifySignature(key, s.method, message, s.sig)) valid.push(s.keyid);
  }
  if (valid.length < req.threshold) {
    throw new NotaryHsmError(
      'THRESHOLD_NOT_MET',
      `${req.role}: ${valid.length} valid signature(s), ${req.threshold} required`,
      { details: { role: req.role, valid, threshold: req.threshold, keyIds: [...byId.keys()] } },
    );
  }
  return valid;
}
