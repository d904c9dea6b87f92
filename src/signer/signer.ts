/**
 * The one signing interface of the project. A token key, a key behind the daemon and
 * the software key of the tests are all a Signer; queues, audit and policy are added by
 * wrapping one Signer in another, never by growing this interface.
 */

/** The signature schemes Notary v1 can verify and we can produce. */
export type SignatureScheme = 'ecdsa-p256' | 'ed25519';

/** Answers every signing request with a signature made by one private key. */
export interface Signer {
  readonly scheme: SignatureScheme;
  /** DER SubjectPublicKeyInfo of the signing key. */
  readonly publicKeySpki: Uint8Array;
  /**
   * Signs `message`. ECDSA P-256 signs SHA-256(message) and returns raw r‖s (64 bytes,
   * what PKCS#11 CKM_ECDSA returns); Ed25519 signs the message itself (64 bytes).
   */
  sign(message: Uint8Array, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
}
