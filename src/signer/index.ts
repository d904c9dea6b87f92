export type { KeySource } from './key-source';
export type { Signer, SignatureScheme } from './signer';
