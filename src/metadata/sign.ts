/**
 * The signing choke point. Every signature this project puts on Notary metadata is made
 * here, and nowhere else.
 *
 * Invariants:
 * - The bytes signed are computed here, once, from the model's Go field set (canonical
 *   JSON); a caller never hands in bytes to sign.
 * - Before any signer is asked (a token may need a PIN or a touch), the available signers
 *   must be able to meet every requirement; otherwise INSUFFICIENT_SIGNATURES names the
 *   key IDs that are missing, and nothing is signed.
 * - A signer is used only for a key a requirement lists, and only when its public key is
 *   that key's (for x509 keys: the certificate's key).
 * - Every signature is verified against the listed key before it is returned; a signer
 *   that returns a bad signature fails the whole operation (SIGNER_INVALID_SIGNATURE).
 * - The result carries the exact file bytes, checked to parse back to the same bytes.
 */
import { createPublicKey } from 'node:crypto';
import { NotaryHsmError } from '../errors';
import type { Signer } from '../signer/signer';
import type { TufKey } from './keys';
import {
  canonicalTextOf,
  parseMetadata,
  serialize,
  type RoleModel,
  type Signature,
  type SignedMetadata,
} from './signed';
import { methodFor, verifySignature, type Requirement } from './verify';

function spkiOf(key: TufKey): Buffer {
  if (key.keytype === 'ecdsa') return key.public;
  return key.publicKey().export({ format: 'der', type: 'spki' });
}

/** True when `signer` holds the private half of `key`. */
export function signerMatches(signer: Signer, key: TufKey): boolean {
  try {
    const theirs = createPublicKey({
      key: Buffer.from(signer.publicKeySpki),
      format: 'der',
      type: 'spki',
    });
    return spkiOf(key).equals(theirs.export({ format: 'der', type: 'spki' }));
  } catch {
    return false;
  }
}

export interface SignOptions<T extends RoleModel> {
  readonly role: string;
  readonly signed: T;
  /** Every requirement must be met (a root rotation needs the old and the new root's). */
  readonly requirements: readonly Requirement[];
  readonly signers: readonly Signer[];
  readonly signal?: AbortSignal;
}

/**
 * Signs `signed` for `role` with enough of `signers` to meet every requirement.
 * throws: INSUFFICIENT_SIGNATURES, SIGNER_INVALID_SIGNATURE, CANONICAL_UNREPRESENTABLE
 */
export async function signMetadata<T extends RoleModel>(
  opts: SignOptions<T>,
): Promise<SignedMetadata<T>> {
  const message = Buffer.from(canonicalTextOf(opts.signed), 'utf8');

  // Pair each listed key with a signer, once per key ID.
  const plan = new Map<string, { key: TufKey; signer: Signer }>();
  for (const req of opts.requirements) {
    // Count distinct key IDs: a key listed twice can only sign once.
    const keys = new Map(req.keys.map((k) => [k.id, k]));
    const missing = new Set<string>();
    let available = 0;
    for (const key of keys.values()) {
      const signer = opts.signers.find((s) => signerMatches(s, key));
      if (signer) {
        available++;
        plan.set(key.id, { key, signer });
      } else {
        missing.add(key.id);
      }
    }
    if (available < req.threshold) {
      throw new NotaryHsmError(
        'INSUFFICIENT_SIGNATURES',
        `${req.role}: ${available} of the ${req.threshold} required signing key(s) available; missing ${[...missing].join(', ')}`,
        { details: { role: req.role, threshold: req.threshold, available, missing: [...missing] } },
      );
    }
  }

  const signatures: Signature[] = await Promise.all(
    [...plan.values()].map(async ({ key, signer }) => {
      const method = methodFor(key.keytype);
      const sig = Buffer.from(
        await signer.sign(message, opts.signal ? { signal: opts.signal } : {}),
      );
      if (!verifySignature(key, method, message, sig)) {
        throw new NotaryHsmError(
          'SIGNER_INVALID_SIGNATURE',
          `the signer for key ${key.id} returned an invalid signature`,
          {
            details: { keyId: key.id, role: opts.role },
          },
        );
      }
      return { keyid: key.id, method, sig };
    }),
  );
  const bytes = serialize(opts.signed, signatures);
  const back = parseMetadata(opts.role, bytes);
  if (!serialize(back.signed, back.signatures).equals(bytes) || !back.message.equals(message)) {
    throw new NotaryHsmError(
      'CANONICAL_UNREPRESENTABLE',
      `${opts.role} metadata does not read back to the same bytes`,
    );
  }
  return { role: opts.role, signed: opts.signed, signatures, message, bytes };
}
