export {
  ModuleHost,
  hostEntryPath,
  type HostKind,
  type ModuleHostOptions,
} from './host/module-host';
export type {
  KeyRef,
  KeyReport,
  PinState,
  SlotReport,
  TokenReport,
  TokenSelector,
} from './host/protocol';
export { TokenOwner, type TokenOwnerOptions } from './token-owner';
export { Pkcs11Signer } from './pkcs11-signer';
export { pinSource, type PinSource } from './pin';
export { codeForCkr, ckrName, translatePkcs11Error } from './ckr';
