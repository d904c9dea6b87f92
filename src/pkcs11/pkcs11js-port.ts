/**
 * The real Pkcs11Port over pkcs11js. Each call is wrapped so that a PKCS#11 failure
 * leaves here as a NotaryHsmError with a stable code (ckr.ts); PINs pass through to the
 * module and appear in no message.
 *
 * CKF_OS_LOCKING_OK: we pass it. Signatures run through C_SignAsync on libuv's thread
 * pool, so several threads may be inside the module at once (one session each, never
 * one session on two threads); the flag tells the module to protect its own shared state
 * with the OS's primitives, which SoftHSM2, ykcs11 and OpenSC all support.
 */
import { existsSync } from 'node:fs';
import * as pkcs11 from 'pkcs11js';
import { NotaryHsmError } from '../errors';
import { hasCkr, translatePkcs11Error } from './ckr';
import type { Handle, Pkcs11Port, PortAttribute, PortTokenInfo } from './port';

/** CK_SLOT_INFO flag (PKCS#11 2.40 §3.2); missing from pkcs11js's typings. */
const CKF_TOKEN_PRESENT = 0x1;

const trimPad = (s: string): string => s.replace(/[\s\0]+$/, '');

export class Pkcs11jsPort implements Pkcs11Port {
  private readonly lib = new pkcs11.PKCS11();
  readonly modulePath: string;

  /** throws: MODULE_NOT_FOUND, MODULE_ERROR */
  constructor(modulePath: string) {
    if (!existsSync(modulePath)) {
      throw new NotaryHsmError('MODULE_NOT_FOUND', `no PKCS#11 module at ${modulePath}`, {
        details: { module: modulePath },
      });
    }
    this.modulePath = modulePath;
    try {
      this.lib.load(modulePath);
    } catch (cause) {
      throw new NotaryHsmError('MODULE_ERROR', `cannot load the PKCS#11 module ${modulePath}`, {
        cause,
        details: { module: modulePath },
      });
    }
  }

  private call<T>(operation: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw translatePkcs11Error(err, operation);
    }
  }

  initialize(): void {
    try {
      this.lib.C_Initialize({ flags: pkcs11.CKF_OS_LOCKING_OK });
    } catch (err) {
      if (hasCkr(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) return;
      throw translatePkcs11Error(err, `C_Initialize of ${this.modulePath}`);
    }
  }

  finalize(): void {
    this.call('C_Finalize', () => this.lib.C_Finalize());
  }

  slots(tokenPresent: boolean): Handle[] {
    return this.call('C_GetSlotList', () => this.lib.C_GetSlotList(tokenPresent));
  }

  slotHasToken(slot: Handle): boolean {
    const info = this.call('C_GetSlotInfo', () => this.lib.C_GetSlotInfo(slot));
    return (info.flags & CKF_TOKEN_PRESENT) !== 0;
  }

  tokenInfo(slot: Handle): PortTokenInfo {
    const t = this.call('C_GetTokenInfo', () => this.lib.C_GetTokenInfo(slot));
    return {
      label: trimPad(t.label),
      serial: trimPad(t.serialNumber),
      manufacturer: trimPad(t.manufacturerID),
      model: trimPad(t.model),
      flags: t.flags,
    };
  }

  openSession(slot: Handle, readWrite: boolean): Handle {
    const flags = pkcs11.CKF_SERIAL_SESSION | (readWrite ? pkcs11.CKF_RW_SESSION : 0);
    return this.call('C_OpenSession', () => this.lib.C_OpenSession(slot, flags));
  }

  closeSession(session: Handle): void {
    this.call('C_CloseSession', () => this.lib.C_CloseSession(session));
  }

  login(session: Handle, pin: string, contextSpecific = false): void {
    const user = contextSpecific ? pkcs11.CKU_CONTEXT_SPECIFIC : pkcs11.CKU_USER;
    try {
      this.lib.C_Login(session, user, pin);
    } catch (err) {
      if (hasCkr(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN)) return;
      throw translatePkcs11Error(err, 'C_Login');
    }
  }

  logout(session: Handle): void {
    try {
      this.lib.C_Logout(session);
    } catch (err) {
      if (hasCkr(err, pkcs11.CKR_USER_NOT_LOGGED_IN)) return;
      throw translatePkcs11Error(err, 'C_Logout');
    }
  }

  findObjects(session: Handle, template: readonly PortAttribute[], max = 16): Handle[] {
    return this.call('C_FindObjects', () => {
      this.lib.C_FindObjectsInit(session, template as pkcs11.Template);
      try {
        return this.lib.C_FindObjects(session, max);
      } finally {
        this.lib.C_FindObjectsFinal(session);
      }
    });
  }

  createObject(session: Handle, template: readonly PortAttribute[]): Handle {
    return this.call('C_CreateObject', () =>
      this.lib.C_CreateObject(session, template as pkcs11.Template),
    );
  }

  setAttributes(session: Handle, object: Handle, template: readonly PortAttribute[]): void {
    this.call('C_SetAttributeValue', () =>
      this.lib.C_SetAttributeValue(session, object, template as pkcs11.Template),
    );
  }

  getAttributes(session: Handle, object: Handle, types: readonly number[]): Map<number, Buffer> {
    const res = this.call('C_GetAttributeValue', () =>
      this.lib.C_GetAttributeValue(
        session,
        object,
        types.map((type) => ({ type })),
      ),
    );
    return new Map(res.map((a) => [a.type, a.value]));
  }

  async generateEcKeyPair(
    session: Handle,
    publicTemplate: readonly PortAttribute[],
    privateTemplate: readonly PortAttribute[],
  ): Promise<{ publicKey: Handle; privateKey: Handle }> {
    try {
      return await this.lib.C_GenerateKeyPairAsync(
        session,
        { mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN },
        publicTemplate as pkcs11.Template,
        privateTemplate as pkcs11.Template,
      );
    } catch (err) {
      throw translatePkcs11Error(err, 'C_GenerateKeyPair');
    }
  }

  signInit(session: Handle, key: Handle): void {
    this.call('C_SignInit', () =>
      this.lib.C_SignInit(session, { mechanism: pkcs11.CKM_ECDSA }, key),
    );
  }

  async sign(session: Handle, digest: Buffer, maxLength: number): Promise<Buffer> {
    try {
      return await this.lib.C_SignAsync(session, digest, Buffer.alloc(maxLength));
    } catch (err) {
      throw translatePkcs11Error(err, 'C_Sign');
    }
  }

  signSync(session: Handle, digest: Buffer, maxLength: number): Buffer {
    return this.call('C_Sign', () => this.lib.C_Sign(session, digest, Buffer.alloc(maxLength)));
  }

  mechanisms(slot: Handle): number[] {
    return this.call('C_GetMechanismList', () => this.lib.C_GetMechanismList(slot));
  }
}
