/**
 * A Signer whose private key lives in a token: SHA-256 is computed here, the token signs
 * the digest with CKM_ECDSA (raw r‖s, what Notary wants), and the module host checks the
 * signature against the key's public key beside it, before it answers — a token that
 * answers with a bad signature fails the operation (SIGNER_INVALID_SIGNATURE) instead of
 * producing unverifiable metadata, and the daemon's event loop neither verifies nor waits
 * on a thread-pool hop for it.
 */
import { createHash } from 'node:crypto';
import type { SignatureScheme, Signer } from '../signer/signer';
import type { KeyRef, KeyReport } from './host/protocol';
import type { TokenOwner } from './token-owner';

export interface Pkcs11SignerOptions {
  owner: TokenOwner;
  key: KeyRef;
  /** The key as found on the token (public key, whether each signature needs the PIN). */
  report: KeyReport;
  /** For tokens whose PIN comes with each request. */
  pin?: string;
}

export class Pkcs11Signer implements Signer {
  readonly scheme: SignatureScheme = 'ecdsa-p256';
  readonly publicKeySpki: Uint8Array;
  private readonly owner: TokenOwner;
  private readonly key: KeyRef;
  private readonly contextPin: boolean;
  private readonly pin?: string;

  constructor(opts: Pkcs11SignerOptions) {
    this.owner = opts.owner;
    this.key = opts.key;
    this.publicKeySpki = opts.report.spki;
    this.contextPin = opts.report.alwaysAuthenticate;
    this.pin = opts.pin;
  }

  /** A signer for the key `ref` on `owner`'s token (looked up once). */
  static async open(owner: TokenOwner, ref: KeyRef, pin?: string): Promise<Pkcs11Signer> {
    const report = await owner.findKey(ref, pin);
    return new Pkcs11Signer({ owner, key: ref, report, ...(pin === undefined ? {} : { pin }) });
  }

  /** throws: SIGNER_INVALID_SIGNATURE, and the token owner's codes */
  sign(message: Uint8Array): Promise<Uint8Array> {
    const digest = createHash('sha256').update(message).digest();
    return this.owner.sign(this.key, digest, {
      ...(this.pin === undefined ? {} : { pin: this.pin }),
      contextPin: this.contextPin,
      check: { message, spki: this.publicKeySpki },
    });
  }
}
