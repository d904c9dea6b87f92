/**
 * Pkcs11Port: the narrow surface of PKCS#11 that notary-hsm uses, and nothing more.
 * Everything above it speaks in slots, sessions and object handles as opaque values and
 * receives NotaryHsmErrors (translated from CKR values at the port, see ckr.ts). The
 * real implementation wraps pkcs11js; faults are injected below it, in a PKCS#11 shim
 * module, so that tests run this same code.
 */

/** An opaque slot, session or object handle. */
export type Handle = Buffer;

export interface PortTokenInfo {
  /** Trailing padding removed. */
  readonly label: string;
  readonly serial: string;
  readonly manufacturer: string;
  readonly model: string;
  readonly flags: number;
}

export interface PortAttribute {
  readonly type: number;
  readonly value?: number | boolean | string | Buffer | null;
}

export interface Pkcs11Port {
  /** C_Initialize (CKR_CRYPTOKI_ALREADY_INITIALIZED counts as success). */
  initialize(): void;
  finalize(): void;
  slots(tokenPresent: boolean): Handle[];
  slotHasToken(slot: Handle): boolean;
  tokenInfo(slot: Handle): PortTokenInfo;
  openSession(slot: Handle, readWrite: boolean): Handle;
  closeSession(session: Handle): void;
  /** C_Login as CKU_USER (or CKU_CONTEXT_SPECIFIC); CKR_USER_ALREADY_LOGGED_IN counts as success. */
  login(session: Handle, pin: string, contextSpecific?: boolean): void;
  logout(session: Handle): void;
  findObjects(session: Handle, template: readonly PortAttribute[], max?: number): Handle[];
  getAttributes(session: Handle, object: Handle, types: readonly number[]): Map<number, Buffer>;
  generateEcKeyPair(
    session: Handle,
    publicTemplate: readonly PortAttribute[],
    privateTemplate: readonly PortAttribute[],
  ): Promise<{ publicKey: Handle; privateKey: Handle }>;
  /** C_SignInit(CKM_ECDSA) then C_Sign off the calling thread; returns raw r‖s. */
  signInit(session: Handle, key: Handle): void;
  sign(session: Handle, digest: Buffer, maxLength: number): Promise<Buffer>;
  /** The same, synchronously (no thread-pool hop), for tokens that never wait for a touch. */
  signSync(session: Handle, digest: Buffer, maxLength: number): Buffer;
  mechanisms(slot: Handle): number[];
  /** C_CreateObject; returns the new object's handle. */
  createObject(session: Handle, template: readonly PortAttribute[]): Handle;
  /** C_SetAttributeValue. */
  setAttributes(session: Handle, object: Handle, template: readonly PortAttribute[]): void;
}
