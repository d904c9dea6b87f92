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
  | 'SERVER_ERROR' // 5xx
  | 'SERVER_UNREACHABLE' // connection refused, DNS, TLS, timeout
  | 'SERVER_RESPONSE_TOO_LARGE' // a body beyond the bound for what was asked
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
  | 'PKCS11_ERROR' // any other CKR value (its name is in details)
  | 'PROFILE_INVALID' // an HSM profile file does not match its schema
  | 'URI_INVALID'; // a PKCS#11 URI (RFC 7512) that we cannot use

/** Codes for user-facing input problems outside metadata. */
export type InputErrorCode =
  'USAGE' | 'CONFIG_INVALID' | 'TARGET_INVALID' | 'TARGET_NOT_FOUND' | 'REPOSITORY_EXISTS';

export type ErrorCode =
  MetadataErrorCode | SigningErrorCode | ServerErrorCode | TokenErrorCode | InputErrorCode;

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
