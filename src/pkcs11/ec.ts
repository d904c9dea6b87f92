/**
 * EC public keys as tokens hand them out. CKA_EC_POINT is, per PKCS#11, the DER
 * encoding of an OCTET STRING holding the uncompressed point (SoftHSM2 and ykcs11 do
 * this); a few modules return the bare point. Only P-256 is used by Notary's ecdsa keys.
 */
import { NotaryHsmError } from '../errors';

/** DER of the P-256 curve OID (1.2.840.10045.3.1.7), the CKA_EC_PARAMS we generate with. */
export const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');

/** SubjectPublicKeyInfo header for a P-256 key; the 65-byte point follows. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/**
 * The uncompressed point inside CKA_EC_POINT (DER-wrapped or bare).
 * throws: KEY_INVALID
 */
export function ecPoint(ckaEcPoint: Buffer): Buffer {
  if (ckaEcPoint.length === 65 && ckaEcPoint[0] === 0x04) return ckaEcPoint;
  if (
    ckaEcPoint.length === 67 &&
    ckaEcPoint[0] === 0x04 &&
    ckaEcPoint[1] === 0x41 &&
    ckaEcPoint[2] === 0x04
  ) {
    return ckaEcPoint.subarray(2);
  }
  throw new NotaryHsmError(
    'KEY_INVALID',
    'the token returned an EC point that is not an uncompressed P-256 point',
  );
}

/** DER SubjectPublicKeyInfo of a P-256 key from its CKA_EC_POINT. throws: KEY_INVALID */
export function p256Spki(ckaEcPoint: Buffer): Buffer {
  return Buffer.concat([P256_SPKI_PREFIX, ecPoint(ckaEcPoint)]);
}
