/**
 * The check of every signature a token makes for a Pkcs11Signer, done in the module host
 * beside the signature: the P-256 signature (raw r‖s) must verify over the message with
 * the key's public key, or the answer is SIGNER_INVALID_SIGNATURE and the signature never
 * leaves the host. Here it costs the host one synchronous verification (~60 µs) and
 * nothing else; in the daemon it cost a thread-pool hop per signature and wake-ups of
 * the daemon's event loop.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { NotaryHsmError } from '../../errors';
import type { SignCheck } from './protocol';

/** Public keys by their SPKI (a handful per daemon: its configured keys). */
const keys = new Map<string, KeyObject>();
const MAX_KEYS = 256;

function publicKey(spki: Uint8Array): KeyObject {
  const id = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString('base64');
  let key = keys.get(id);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    keys.set(id, key);
  }
  return key;
}

/** throws: SIGNER_INVALID_SIGNATURE */
export function checkSignature(token: string, check: SignCheck, sig: Buffer): Buffer {
  let ok = false;
  try {
    ok = verify(
      'sha256',
      check.message,
      { key: publicKey(check.spki), dsaEncoding: 'ieee-p1363' },
      sig,
    );
  } catch {
    // a signature of the wrong length, a key that does not parse: it does not verify
  }
  if (!ok) {
    throw new NotaryHsmError(
      'SIGNER_INVALID_SIGNATURE',
      `token ${token} returned a signature that does not verify`,
      { details: { token } },
    );
  }
  return sig;
}
