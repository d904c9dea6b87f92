export type { Signer, SignatureScheme } from './signer';
