/**
 * The one table from PKCS#11 return values (CKR_*) to our stable error codes. Every
 * failure of a PKCS#11 call is translated here, at the port boundary, by its numeric
 * code — never by message text — and the module's own message is not passed on (a
 * module is free to put anything in it). What the caller sees is the code, the CKR name
 * and the operation that failed.
 */
import * as pkcs11 from 'pkcs11js';
import { NotaryHsmError, type TokenErrorCode } from '../errors';

const TABLE: ReadonlyArray<readonly [string, TokenErrorCode]> = [
  ['CKR_PIN_INCORRECT', 'PIN_INCORRECT'],
  ['CKR_PIN_INVALID', 'PIN_INVALID'],
  ['CKR_PIN_LEN_RANGE', 'PIN_INVALID'],
  ['CKR_PIN_LOCKED', 'PIN_LOCKED'],
  ['CKR_PIN_EXPIRED', 'PIN_EXPIRED'],
  ['CKR_USER_PIN_NOT_INITIALIZED', 'PIN_LOCKED'],
  ['CKR_USER_NOT_LOGGED_IN', 'NOT_LOGGED_IN'],
  ['CKR_DEVICE_REMOVED', 'TOKEN_NOT_PRESENT'],
  ['CKR_TOKEN_NOT_PRESENT', 'TOKEN_NOT_PRESENT'],
  ['CKR_TOKEN_NOT_RECOGNIZED', 'TOKEN_NOT_PRESENT'],
  ['CKR_SESSION_HANDLE_INVALID', 'TOKEN_NOT_PRESENT'],
  ['CKR_SESSION_CLOSED', 'TOKEN_NOT_PRESENT'],
  ['CKR_SLOT_ID_INVALID', 'TOKEN_NOT_PRESENT'],
  ['CKR_DEVICE_ERROR', 'DEVICE_ERROR'],
  ['CKR_DEVICE_MEMORY', 'DEVICE_ERROR'],
  ['CKR_GENERAL_ERROR', 'DEVICE_ERROR'],
  ['CKR_FUNCTION_FAILED', 'DEVICE_ERROR'],
  ['CKR_TOKEN_WRITE_PROTECTED', 'TOKEN_READ_ONLY'],
  ['CKR_SESSION_READ_ONLY', 'TOKEN_READ_ONLY'],
  ['CKR_SESSION_COUNT', 'TOKEN_BUSY'],
  ['CKR_OPERATION_ACTIVE', 'TOKEN_BUSY'],
  ['CKR_FUNCTION_CANCELED', 'TOKEN_TIMEOUT'],
  ['CKR_OBJECT_HANDLE_INVALID', 'KEY_NOT_FOUND'],
  ['CKR_KEY_HANDLE_INVALID', 'KEY_NOT_FOUND'],
  ['CKR_MECHANISM_INVALID', 'MECHANISM_UNSUPPORTED'],
  ['CKR_MECHANISM_PARAM_INVALID', 'MECHANISM_UNSUPPORTED'],
  ['CKR_KEY_TYPE_INCONSISTENT', 'MECHANISM_UNSUPPORTED'],
  ['CKR_KEY_FUNCTION_NOT_PERMITTED', 'MECHANISM_UNSUPPORTED'],
  ['CKR_FUNCTION_NOT_SUPPORTED', 'MECHANISM_UNSUPPORTED'],
  ['CKR_ATTRIBUTE_TYPE_INVALID', 'KEY_TEMPLATE_INVALID'],
  ['CKR_ATTRIBUTE_VALUE_INVALID', 'KEY_TEMPLATE_INVALID'],
  ['CKR_TEMPLATE_INCOMPLETE', 'KEY_TEMPLATE_INVALID'],
  ['CKR_TEMPLATE_INCONSISTENT', 'KEY_TEMPLATE_INVALID'],
  ['CKR_DOMAIN_PARAMS_INVALID', 'KEY_TEMPLATE_INVALID'],
  ['CKR_CRYPTOKI_NOT_INITIALIZED', 'MODULE_ERROR'],
];

const constants = pkcs11 as unknown as Record<string, unknown>;

/** CKR value → [name, code]. Built from pkcs11js's constants so numbers are never retyped. */
const BY_VALUE = new Map<number, readonly [string, TokenErrorCode]>(
  TABLE.flatMap(([name, code]) => {
    const v = constants[name];
    return typeof v === 'number' ? [[v, [name, code] as const]] : [];
  }),
);

/** The CKR_* name of a value (for messages and details). */
export function ckrName(value: number): string {
  const known = BY_VALUE.get(value)?.[0];
  if (known) return known;
  for (const [k, v] of Object.entries(constants)) if (k.startsWith('CKR_') && v === value) return k;
  return `CKR_0x${value.toString(16).padStart(8, '0')}`;
}

/** The code a CKR value maps to (PKCS11_ERROR when the table does not name it). */
export function codeForCkr(value: number): TokenErrorCode {
  return BY_VALUE.get(value)?.[1] ?? 'PKCS11_ERROR';
}

/** True when `err` is a pkcs11js error carrying CKR value `ckr`. */
export function hasCkr(err: unknown, ckr: number): boolean {
  return err instanceof pkcs11.Pkcs11Error && err.code === ckr;
}

/**
 * Translates anything a pkcs11js call threw into a NotaryHsmError. `operation` names
 * what we were doing (e.g. "C_Login on token 'ci'"); it must never contain a secret.
 */
export function translatePkcs11Error(err: unknown, operation: string): NotaryHsmError {
  if (err instanceof NotaryHsmError) return err;
  if (err instanceof pkcs11.Pkcs11Error) {
    const name = ckrName(err.code);
    return new NotaryHsmError(codeForCkr(err.code), `${operation} failed: ${name}`, {
      details: { ckr: name, operation },
    });
  }
  // Not a PKCS#11 result (a type error in the binding, a missing symbol): say which call.
  return new NotaryHsmError('PKCS11_ERROR', `${operation} failed in the PKCS#11 binding`, {
    details: { operation, kind: err instanceof Error ? err.name : typeof err },
  });
}
