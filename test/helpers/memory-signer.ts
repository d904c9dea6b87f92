/**
 * A software Signer for tests only: an in-process P-256 or Ed25519 key. It lives under
 * test/ so that no production code path can ever sign with a key outside a token.
 */
import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import type { SignatureScheme, Signer } from '../../src/signer/signer';

export class MemorySigner implements Signer {
  readonly scheme: SignatureScheme;
  readonly publicKeySpki: Uint8Array;
  private readonly privateKey: KeyObject;
  /** How many signatures this signer has made (tests assert on it). */
  count = 0;

  constructor(scheme: SignatureScheme = 'ecdsa-p256') {
    this.scheme = scheme;
    const pair =
      scheme === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.privateKey = pair.privateKey;
    this.publicKeySpki = pair.publicKey.export({ format: 'der', type: 'spki' });
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    this.count++;
    const sig =
      this.scheme === 'ed25519'
        ? nodeSign(null, message, this.privateKey)
        : nodeSign('sha256', message, { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return Promise.resolve(sig);
  }
}
