/**
 * The one code → HTTP status table: every code has a row with one of the statuses the
 * API promises, the policy codes map as the REST contract says, and anything that is not
 * a NotaryHsmError answers 500.
 */
import {
  ERROR_CODES,
  NotaryHsmError,
  httpStatusFor,
  httpStatusOf,
  type ErrorCode,
} from '../../../src/errors';

describe('httpStatusFor', () => {
  it('gives every code one of the promised statuses', () => {
    expect(ERROR_CODES.length).toBeGreaterThan(70);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) {
      expect([400, 401, 403, 404, 409, 413, 423, 500, 503, 504]).toContain(httpStatusFor(code));
    }
  });

  it.each([
    ['UNAUTHENTICATED', 401],
    ['FORBIDDEN', 403],
    ['GUN_INVALID', 400],
    ['ROLE_MISMATCH', 400],
    ['ROLE_NAME_INVALID', 400],
    ['WRONG_TYPE', 400],
    ['EXPIRY_OUT_OF_POLICY', 400],
    ['TARGET_OUTSIDE_PATHS', 403],
    ['VERSION_ROLLBACK', 409],
    ['REQUEST_TOO_LARGE', 413],
    ['JSON_INVALID', 400],
    ['JSON_TOO_DEEP', 400],
    ['FIELD_UNKNOWN', 400],
    ['USAGE', 400],
    ['KEY_NOT_FOUND', 404],
    ['PIN_LOCKED', 423],
    ['TOKEN_NOT_PRESENT', 503],
    ['TOKEN_BUSY', 503],
    ['TOKEN_TIMEOUT', 504],
    ['CONFIG_INVALID', 500],
    ['PKCS11_ERROR', 500],
  ] as const)('%s → %d', (code, status) => {
    expect(httpStatusFor(code)).toBe(status);
  });

  it('answers 500 for a string that is no code and for errors that are not ours', () => {
    expect(httpStatusFor('NO_SUCH_CODE' as ErrorCode)).toBe(500);
    expect(httpStatusFor('__proto__' as ErrorCode)).toBe(500);
    expect(httpStatusOf(new Error('boom'))).toBe(500);
    expect(httpStatusOf('boom')).toBe(500);
    expect(httpStatusOf(new NotaryHsmError('FORBIDDEN', 'no'))).toBe(403);
  });
});
