/**
 * The daemon's embedded state and audit store: one append-only, hash-chained audit log
 * per state directory, and the last signed version per GUN and role derived from it.
 */
export { AuditLog } from './audit-log';
export { LOCK_FILE } from './lock';
export type { StateLock } from './lock';
export { AUDIT_LOG_FILE, openStore } from './open';
export type { Store, StoreOptions } from './open';
export { readAudit, verifyAuditLog } from './read';
export type { AuditVerification, ReadAuditOptions } from './read';
export { GENESIS_HASH } from './record';
export { SigningState } from './signing-state';
export type { ReserveInput } from './signing-state';
export type { AuditFileIo, AuditHead, AuditLogStats } from './writer';
