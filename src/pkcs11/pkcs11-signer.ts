/**
 * A Signer whose private key lives in a token: SHA-256 is computed here, the token signs
 * the digest with CKM_ECDSA (raw r‖s, what Notary wants), and the signature is checked
 * against the key's public key before it is returned — a token that answers with a bad
 * signature fails the operation instead of producing unverifiable metadata. The check runs
 * on the process's verification thread, together with the other signatures of the same
 * moment (batch-verify.ts), so a busy daemon's event loop does not pay for it; a lone
 * signature, at a quiet moment, is checked at once on the calling thread.
 */
import { hash } from 'node:crypto';
import { NotaryHsmError } from '../errors';
import type { SignatureScheme, Signer } from '../signer/signer';
import { batchVerifier, type BatchVerifier, type VerifyKey } from './batch-verify';
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
  private readonly verifier: BatchVerifier;
  private readonly verifyKey: VerifyKey;
  private readonly contextPin: boolean;
  private readonly pin?: string;

  constructor(opts: Pkcs11SignerOptions) {
    this.owner = opts.owner;
    this.key = opts.key;
    this.publicKeySpki = opts.report.spki;
    this.verifier = batchVerifier();
    this.verifyKey = this.verifier.key(opts.report.spki);
    this.contextPin = opts.report.alwaysAuthenticate;
    this.pin = opts.pin;
  }

  /** A signer for the key `ref` on `owner`'s token (looked up once). */
  static async open(owner: TokenOwner, ref: KeyRef, pin?: string): Promise<Pkcs11Signer> {
    const report = await owner.findKey(ref, pin);
    return new Pkcs11Signer({ owner, key: ref, report, ...(pin === undefined ? {} : { pin }) });
  }

  /** throws: SIGNER_INVALID_SIGNATURE, and the token owner's codes */
  async sign(message: Uint8Array): Promise<Uint8Array> {
    const digest = hash('sha256', message, 'buffer');
    const sig = await this.owner.sign(this.key, digest, {
      ...(this.pin === undefined ? {} : { pin: this.pin }),
      contextPin: this.contextPin,
    });
    if (!(await this.verifier.verify(this.verifyKey, message, sig))) {
      throw new NotaryHsmError(
        'SIGNER_INVALID_SIGNATURE',
        `token ${this.owner.name} returned a signature that does not verify`,
        {
          details: { token: this.owner.name },
        },
      );
    }
    return sig;
  }
}
