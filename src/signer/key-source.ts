/**
 * Where the signing pipeline gets a Signer for a configured key: the token registry today
 * (PKCS#11), another backend (a network HSM's service, a cloud KMS) tomorrow, as a new
 * implementation of this interface rather than a change to the pipeline. `R` is how the
 * backend names a key (a PKCS#11 reference for tokens).
 */
import type { Signer } from './signer';

export interface KeySource<R> {
  /** The Signer for key `ref` on `token`; `pin` for tokens whose PIN comes per request. */
  signerFor(token: string, ref: R, pin?: string): Promise<Signer>;
}
