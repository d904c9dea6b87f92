/**
 * Errors that belong to the HTTP layer itself (a bad body, an unknown route, a refused
 * Host header) rather than to the signing pipeline. They carry a stable SCREAMING_SNAKE
 * code like NotaryHsmError does, and the error middleware renders both the same way.
 */

/**
 * Codes that only the HTTP layer produces (UNAUTHENTICATED, FORBIDDEN and the rest are
 * library codes, raised as NotaryHsmError).
 */
export type HttpErrorCode =
  | 'BAD_REQUEST' // a field has the wrong type or is out of bounds
  | 'BAD_JSON' // the body is not strict JSON (syntax, encoding, duplicate keys, depth)
  | 'UNKNOWN_FIELD' // a body member or query parameter the endpoint does not define
  | 'NOT_FOUND' // no such route
  | 'METHOD_NOT_ALLOWED' // the route exists with other methods
  | 'HOST_NOT_ALLOWED' // the Host header is not on the allowlist (DNS rebinding)
  | 'BODY_TOO_LARGE' // the body exceeds the configured limit
  | 'UNSUPPORTED_MEDIA_TYPE' // a body that is not application/json (or is encoded)
  | 'INTERNAL'; // anything unexpected

/** An error raised by the HTTP layer; its status comes from the one status table. */
export class HttpError extends Error {
  readonly code: HttpErrorCode;
  /** Response headers that belong to this answer (`Allow`, `Connection: close`). */
  readonly headers: Readonly<Record<string, string>>;
  /** Machine-readable context for the log (never echoed values, never secrets). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: HttpErrorCode,
    message: string,
    options: { headers?: Record<string, string>; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.headers = options.headers ?? {};
    this.details = options.details ?? {};
  }
}
