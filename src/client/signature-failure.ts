/**
 * Why a file failed its role's threshold, told apart as an attack would need telling:
 * signed only by keys the role does not list (KEY_NOT_TRUSTED: a key not in root, or not
 * in the delegation), signed by listed keys whose signatures do not verify
 * (SIGNATURE_INVALID: the content was changed after signing), or too few valid
 * signatures (THRESHOLD_NOT_MET, kept as it is).
 */
import { NotaryHsmError } from '../errors';
import type { Signature } from '../metadata/signed';
import { verifyThreshold, type Requirement } from '../metadata/verify';

function listOf(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * The finer error for a THRESHOLD_NOT_MET of a file with `signatures`; any other error
 * is returned unchanged.
 */
export function explainThresholdFailure(
  err: unknown,
  signatures: readonly Signature[],
  what: string,
): unknown {
  if (!(err instanceof NotaryHsmError) || err.code !== 'THRESHOLD_NOT_MET') return err;
  const listed = new Set(listOf(err.details.keyIds));
  const valid = listOf(err.details.valid);
  if (valid.length > 0 || signatures.length === 0) return err;
  const role = typeof err.details.role === 'string' ? err.details.role : what;
  const byListed = signatures.filter((s) => listed.has(s.keyid));
  const signers = [...new Set(signatures.map((s) => s.keyid))];
  if (byListed.length === 0) {
    return new NotaryHsmError(
      'KEY_NOT_TRUSTED',
      `${what} is signed only by key(s) ${signers.join(', ')}, which ${role} does not list ` +
        `(it lists ${[...listed].join(', ') || 'no key'}); refusing it`,
      { cause: err, details: { role, signers, listed: [...listed] } },
    );
  }
  return new NotaryHsmError(
    'SIGNATURE_INVALID',
    `${what}: the signature(s) of ${[...new Set(byListed.map((s) => s.keyid))].join(', ')} ` +
      `do not verify over its content; it was changed after signing, refusing it`,
    { cause: err, details: { role, signers, listed: [...listed] } },
  );
}

/**
 * verifyThreshold with the failure explained.
 * throws: KEY_NOT_TRUSTED, SIGNATURE_INVALID, THRESHOLD_NOT_MET
 */
export function checkSignatures(
  message: Uint8Array,
  signatures: readonly Signature[],
  req: Requirement,
  what: string,
): string[] {
  try {
    return verifyThreshold(message, signatures, req);
  } catch (err) {
    throw explainThresholdFailure(err, signatures, what);
  }
}
