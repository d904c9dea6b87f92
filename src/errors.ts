/**
 * Typed errors with stable codes. Every failure the library reports to a caller is a
 * NotaryHsmError whose `code` is one of the SCREAMING_SNAKE codes below; callers (the
 * CLI, the daemon's HTTP layer, tests) branch on the code, never on message text.
 * Messages say what went wrong and where; they never contain secrets.
 */

/** Codes for malformed or untrustworthy Notary v1 metadata. */
export type MetadataErrorCode =
  | 'JSON_INVALID' // not UTF-8, not JSON, or JSON that Go would not decode the same way
  | 'JSON_DUPLICATE_KEY' // an object names the same member twice
  | 'JSON_TOO_DEEP' // nesting beyond the parser's bound
  | 'FIELD_MISSING' // a required member is absent
  | 'FIELD_UNKNOWN' // a member Notary does not define (it would be dropped by Go)
  | 'FIELD_TYPE' // a member has the wrong JSON type
  | 'FIELD_VALUE' // right type, value out of range or malformed (version < 1, bad hex…)
  | 'BASE64_INVALID' // not padded standard base64
  | 'EXPIRES_INVALID' // not an RFC 3339 time that Go would parse
  | 'TYPE_MISMATCH' // `_type` does not match the role
  | 'ROLE_NAME_INVALID' // not a Notary role name
  | 'CANONICAL_UNREPRESENTABLE' // a value canonical JSON cannot carry (float, control char…)
  | 'KEY_UNSUPPORTED' // a key type or curve we cannot verify with
  | 'KEY_INVALID' // key bytes that do not decode as their type says
  | 'KEY_ID_MISMATCH' // a key listed under an ID that is not its ID
  | 'CERTIFICATE_INVALID' // root certificate unusable (CN, CA flag, validity, encoding)
  | 'SIGNATURE_INVALID' // a signature that does not verify
  | 'THRESHOLD_NOT_MET' // fewer valid signatures than the role's threshold
  | 'METADATA_EXPIRED' // `expires` is in the past
  | 'HASH_MISMATCH' // bytes do not match the hashes their parent lists
  | 'LENGTH_MISMATCH' // bytes do not match the length their parent lists
  | 'ROLE_MISSING' // a role the chain needs is absent
  | 'VERSION_INVALID'; // version goes backwards or is otherwise inconsistent

/** Codes for the signing choke point. */
export type SigningErrorCode = 'INSUFFICIENT_SIGNATURES' | 'SIGNER_INVALID_SIGNATURE';

/** Codes for the Notary server client. */
export type ServerErrorCode =
  | 'SERVER_NOT_FOUND' // METADATA_NOT_FOUND, or the GUN does not exist
  | 'SERVER_INVALID_UPDATE' // INVALID_UPDATE: the server's validation refused a publish
  | 'SERVER_VERSION_CONFLICT' // VERSION: a newer version is already stored
  | 'SERVER_REJECTED' // another 4xx the server explained (MALFORMED_JSON, INVALID_ROLE…)
  | 'SERVER_UNAUTHORIZED' // 401 / 403
  | 'SERVER_AUTH' // registry token auth failed: credentials missing or refused by the token service
  | 'SERVER_ERROR' // 5xx
  | 'SERVER_UNREACHABLE' // connection refused, DNS, TLS, timeout
  | 'SERVER_RESPONSE_TOO_LARGE' // a body beyond the bound for what was asked
  | 'SERVER_TIMEOUT' // an answer that did not end within the deadline (a slow or endless body)
  | 'SERVER_BAD_RESPONSE'; // an answer that is not what the protocol promises

/** Codes for tokens, keys and PINs (PKCS#11), mapped from CKR_* values in one table. */
export type TokenErrorCode =
  | 'MODULE_NOT_FOUND' // no PKCS#11 module file at any candidate path
  | 'MODULE_ERROR' // the module failed to load or initialise
  | 'DEVICE_ERROR' // the module reports a device error (ykcs11 without pcscd, a failing token)
  | 'NO_READER' // the module sees no slot at all (ykcs11 with pcscd but no reader/YubiKey)
  | 'TOKEN_NOT_FOUND' // no token matches the configured label or serial
  | 'TOKEN_AMBIGUOUS' // several tokens match the selector
  | 'TOKEN_NOT_PRESENT' // the token was removed (or its sessions were lost with it)
  | 'TOKEN_BUSY' // the token's queue is full
  | 'TOKEN_TIMEOUT' // the operation did not finish in time (e.g. a touch that never came)
  | 'TOKEN_READ_ONLY' // the token refuses to store objects
  | 'TOKEN_SHUTDOWN' // the token owner is shutting down
  | 'PIN_REQUIRED' // the token needs a PIN and none was supplied
  | 'PIN_INCORRECT' // the PIN was refused (never retried automatically)
  | 'PIN_INVALID' // the PIN is malformed or of the wrong length
  | 'PIN_FINAL_TRY' // the token reports one try left: we do not log in
  | 'PIN_LOCKED' // the token reports the PIN locked
  | 'PIN_EXPIRED'
  | 'NOT_LOGGED_IN'
  | 'KEY_NOT_FOUND' // no key object matches
  | 'KEY_EXISTS' // a key with this label or ID already exists on the token
  | 'KEY_TEMPLATE_INVALID' // the token refused the attributes we asked for
  | 'MECHANISM_UNSUPPORTED' // the token cannot perform the mechanism or function
  | 'DATA_OBJECT_AMBIGUOUS' // two data objects with the application and label we look for
  | 'PKCS11_ERROR' // any other CKR value (its name is in details)
  | 'PROFILE_INVALID' // an HSM profile file does not match its schema
  | 'URI_INVALID'; // a PKCS#11 URI (RFC 7512) that we cannot use

/**
 * Codes for the daemon's state and audit store (src/store). Its rollback refusal is
 * VERSION_ROLLBACK, listed with the policy codes.
 */
export type StoreErrorCode =
  | 'AUDIT_UNAVAILABLE' // the audit log cannot be written or read: nothing may be signed
  | 'AUDIT_CORRUPT' // the audit log's records or hash chain do not verify: refuse to start
  | 'AUDIT_RECORD_INVALID' // a record the store cannot hold (wrong types, bad version)
  | 'AUDIT_BEHIND_CHECKPOINT' // the log lacks records its checkpoint on the token covers (cut or restored): refuse to start
  | 'CHECKPOINT_UNAVAILABLE' // the audit checkpoint cannot be read or written: nothing is signed
  | 'CHECKPOINT_MISSING' // the log says it has a checkpoint, and its token holds none: refuse to start
  | 'STATE_LOCKED'; // another live process holds the state directory

/** Codes for user-facing input problems outside metadata. */
export type InputErrorCode =
  | 'USAGE'
  | 'CONFIG_INVALID'
  | 'TARGET_INVALID'
  | 'TARGET_NOT_FOUND'
  | 'REPOSITORY_EXISTS'
  | 'DAEMON_UNREACHABLE' // the signing daemon did not answer
  | 'DAEMON_BAD_RESPONSE' // the daemon answered something its API does not promise
  | 'DAEMON_TLS' // the TLS handshake with the daemon failed (no or an unaccepted client certificate, an unknown CA)
  | 'KEY_NOT_HELD' // the repository's role is signed by keys the daemon does not hold for us
  | 'TOKEN_FILE_INSECURE' // a --token-file that others may read or write (refused, as ssh does for keys)
  | 'UPDATE_GAVE_UP' // a change could not be published within its retries and deadline
  | 'CEREMONY_FILE_INVALID' // a root change file that is not ours, inconsistent, or edited
  | 'ROOT_CHANGED'; // the repository's root is no longer the one a root change was made for

/** Codes for verification against pinned roots and the local trust cache (src/client). */
export type TrustErrorCode =
  | 'ROOT_NOT_PINNED' // no pin and no cached root for the GUN: we never trust on first use
  | 'ROOT_PIN_MISMATCH' // no pinned key signed the server's root (or the cached chain)
  | 'ROOT_CHAIN_INVALID' // a root that does not follow from the trusted one, version by version
  | 'ROLLBACK_DETECTED' // a role older than the trust cache has seen
  | 'KEY_NOT_TRUSTED' // a file signed only by keys its role does not list
  | 'TARGET_ROLES_DISAGREE' // the roles required to sign a tag list different digests
  | 'TRUST_CACHE_INVALID'; // a trust cache or trust file that cannot be read as ours

/** Codes for the daemon's authentication and signing policy. */
export type PolicyErrorCode =
  | 'UNAUTHENTICATED' // no bearer token, or one that no configured client holds
  | 'CLIENT_CERTIFICATE_REQUIRED' // a TLS listener's client came without a certificate its CA signed
  | 'FORBIDDEN' // the client's scopes do not allow this endpoint, GUN, role or key
  | 'GUN_INVALID' // not a GUN we accept (lowercase ASCII Docker repository name)
  | 'ROLE_MISMATCH' // the role does not fit the endpoint (`targets` at sign/root…)
  | 'WRONG_TYPE' // `signed._type` does not fit the endpoint
  | 'EXPIRY_OUT_OF_POLICY' // `expires` in the past or beyond the role's maximum lifetime
  | 'TARGET_OUTSIDE_PATHS' // a delegation target the client may not sign
  | 'VERSION_ROLLBACK' // not above the last version signed for the GUN and role
  | 'VERSION_JUMP' // further above the last version signed than the policy allows
  | 'REQUEST_TOO_LARGE'; // a request body beyond the configured limit

export type ErrorCode =
  | MetadataErrorCode
  | SigningErrorCode
  | ServerErrorCode
  | TokenErrorCode
  | StoreErrorCode
  | InputErrorCode
  | TrustErrorCode
  | PolicyErrorCode;

export interface ErrorOptions {
  cause?: unknown;
  /** Machine-readable context: a JSON pointer, key IDs, a role name. Never a secret. */
  details?: Readonly<Record<string, unknown>>;
}

/** The one error class of the project: a stable code, a message, optional details. */
export class NotaryHsmError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NotaryHsmError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** True when `err` is a NotaryHsmError, optionally with one of `codes`. */
export function isNotaryHsmError(err: unknown, ...codes: ErrorCode[]): err is NotaryHsmError {
  return err instanceof NotaryHsmError && (codes.length === 0 || codes.includes(err.code));
}

/** The HTTP statuses the daemon answers errors with. */
export type HttpErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 423 | 500 | 503 | 504;

/**
 * The one code → HTTP status table (the daemon's error answers). 400 bad input, 401 no
 * or unknown client token, 403 not allowed, 404 unknown key or target, 409 rollback or
 * conflict, 413 too large, 423 PIN locked, 503 token absent or busy (also a token module
 * that cannot be loaded, or too few usable signers), 504 token timeout, 500 everything
 * else: failures of the daemon, its configuration and the Notary server behind a client,
 * none of which the caller can fix by changing the request. Typed as a record over
 * ErrorCode, so a new code does not compile without a row.
 */
const HTTP_STATUS: { readonly [C in ErrorCode]: HttpErrorStatus } = {
  // Metadata: what the caller sent (or asked us to trust) is malformed or untrustworthy.
  JSON_INVALID: 400,
  JSON_DUPLICATE_KEY: 400,
  JSON_TOO_DEEP: 400,
  FIELD_MISSING: 400,
  FIELD_UNKNOWN: 400,
  FIELD_TYPE: 400,
  FIELD_VALUE: 400,
  BASE64_INVALID: 400,
  EXPIRES_INVALID: 400,
  TYPE_MISMATCH: 400,
  ROLE_NAME_INVALID: 400,
  CANONICAL_UNREPRESENTABLE: 400,
  KEY_UNSUPPORTED: 400,
  KEY_INVALID: 400,
  KEY_ID_MISMATCH: 400,
  CERTIFICATE_INVALID: 400,
  SIGNATURE_INVALID: 400,
  THRESHOLD_NOT_MET: 400,
  METADATA_EXPIRED: 400,
  HASH_MISMATCH: 400,
  LENGTH_MISMATCH: 400,
  ROLE_MISSING: 400,
  VERSION_INVALID: 409,
  // Signing: too few usable signers is an availability problem; a signature that does
  // not verify is a fault on our side.
  INSUFFICIENT_SIGNATURES: 503,
  SIGNER_INVALID_SIGNATURE: 500,
  // Notary server behind a client: not the caller's request.
  SERVER_NOT_FOUND: 500,
  SERVER_INVALID_UPDATE: 500,
  SERVER_VERSION_CONFLICT: 500,
  SERVER_REJECTED: 500,
  SERVER_UNAUTHORIZED: 500,
  SERVER_AUTH: 500,
  SERVER_ERROR: 500,
  SERVER_UNREACHABLE: 500,
  SERVER_RESPONSE_TOO_LARGE: 500,
  SERVER_TIMEOUT: 500,
  SERVER_BAD_RESPONSE: 500,
  // Tokens, keys and PINs.
  MODULE_NOT_FOUND: 503,
  MODULE_ERROR: 503,
  DEVICE_ERROR: 503,
  NO_READER: 503,
  TOKEN_NOT_FOUND: 404,
  TOKEN_AMBIGUOUS: 500,
  TOKEN_NOT_PRESENT: 503,
  TOKEN_BUSY: 503,
  TOKEN_TIMEOUT: 504,
  TOKEN_READ_ONLY: 500,
  TOKEN_SHUTDOWN: 503,
  PIN_REQUIRED: 400,
  PIN_INCORRECT: 403,
  PIN_INVALID: 400,
  PIN_FINAL_TRY: 423,
  PIN_LOCKED: 423,
  PIN_EXPIRED: 423,
  NOT_LOGGED_IN: 503,
  KEY_NOT_FOUND: 404,
  KEY_EXISTS: 409,
  KEY_TEMPLATE_INVALID: 500,
  MECHANISM_UNSUPPORTED: 500,
  DATA_OBJECT_AMBIGUOUS: 500,
  PKCS11_ERROR: 500,
  PROFILE_INVALID: 500,
  URI_INVALID: 500,
  // State and audit store: the daemon's own failures.
  AUDIT_UNAVAILABLE: 503,
  AUDIT_CORRUPT: 500,
  AUDIT_RECORD_INVALID: 500,
  AUDIT_BEHIND_CHECKPOINT: 500,
  CHECKPOINT_UNAVAILABLE: 503,
  CHECKPOINT_MISSING: 500,
  STATE_LOCKED: 500,
  // Input outside metadata.
  USAGE: 400,
  CONFIG_INVALID: 500,
  TARGET_INVALID: 400,
  TARGET_NOT_FOUND: 404,
  REPOSITORY_EXISTS: 409,
  DAEMON_UNREACHABLE: 503,
  DAEMON_BAD_RESPONSE: 500,
  DAEMON_TLS: 500,
  KEY_NOT_HELD: 403,
  TOKEN_FILE_INSECURE: 500,
  UPDATE_GAVE_UP: 503,
  CEREMONY_FILE_INVALID: 400,
  ROOT_CHANGED: 409,
  // Verification with pinned roots (client side): the trust data, not the request, is at fault.
  ROOT_NOT_PINNED: 400,
  ROOT_PIN_MISMATCH: 403,
  ROOT_CHAIN_INVALID: 400,
  ROLLBACK_DETECTED: 409,
  KEY_NOT_TRUSTED: 400,
  TARGET_ROLES_DISAGREE: 409,
  TRUST_CACHE_INVALID: 500,
  // Policy.
  UNAUTHENTICATED: 401,
  CLIENT_CERTIFICATE_REQUIRED: 401,
  FORBIDDEN: 403,
  GUN_INVALID: 400,
  ROLE_MISMATCH: 400,
  WRONG_TYPE: 400,
  EXPIRY_OUT_OF_POLICY: 400,
  TARGET_OUTSIDE_PATHS: 403,
  VERSION_ROLLBACK: 409,
  VERSION_JUMP: 409,
  REQUEST_TOO_LARGE: 413,
};

/** Every code, in the table's order (for exhaustive tests and the API description). */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(
  Object.keys(HTTP_STATUS) as ErrorCode[],
);

/** The HTTP status the daemon answers `code` with (500 for a string that is no code). */
export function httpStatusFor(code: ErrorCode): HttpErrorStatus {
  return Object.prototype.hasOwnProperty.call(HTTP_STATUS, code) ? HTTP_STATUS[code] : 500;
}

/** The HTTP status for anything thrown: its code's status, 500 for what is not ours. */
export function httpStatusOf(err: unknown): HttpErrorStatus {
  return err instanceof NotaryHsmError ? httpStatusFor(err.code) : 500;
}
