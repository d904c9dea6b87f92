/**
 * HTTP statuses for the HTTP layer's own codes. Every other code takes its status from
 * the project's one table, `httpStatusFor` in src/errors.ts; the two sets of codes are
 * disjoint (checked at compile time), so no code has two statuses.
 */
import { httpStatusFor, type ErrorCode } from '../../src/errors';
import type { HttpErrorCode } from './errors';

const HTTP_LAYER: Readonly<Record<HttpErrorCode, number>> = {
  BAD_REQUEST: 400,
  BAD_JSON: 400,
  UNKNOWN_FIELD: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  HOST_NOT_ALLOWED: 421,
  INTERNAL: 500,
};

type Disjoint<T extends never> = T;
/** Compile-time check: no HTTP-layer code is also a library code. */
export type HttpCodesAreNotLibraryCodes = Disjoint<Extract<HttpErrorCode, ErrorCode>>;

/** The status to answer an error with: HTTP-layer codes here, the rest from src/errors.ts (500 when unknown). */
export function statusForCode(code: string): number {
  if (Object.prototype.hasOwnProperty.call(HTTP_LAYER, code)) {
    return HTTP_LAYER[code as HttpErrorCode];
  }
  return httpStatusFor(code as ErrorCode);
}
