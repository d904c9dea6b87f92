/**
 * The error middleware: the first one that can see an error, so everything that may
 * throw runs inside it. It turns NotaryHsmErrors and the HTTP layer's own errors into
 * `{"error":{"code","message","requestId"}}` with the status from the one code table.
 * 4xx answers show the error's message (it says what to fix, and by contract never holds
 * a secret); 5xx answers show the code and a fixed message, and the details go only to
 * the log. Anything that is not a typed error is a 500 `INTERNAL` with nothing leaked.
 */
import type winston from 'winston';
import { isNotaryHsmError } from '../../src/errors';
import type { DaemonMiddleware } from '../http/context';
import { HttpError } from '../http/errors';
import { statusForCode } from '../http/status';
import { REQUEST_ID_HEADER } from './request-id';

/** The body of every error answer. */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    requestId: string;
    details?: Readonly<Record<string, unknown>>;
  };
}

/**
 * Codes whose details a client acts on, and the members it may see: a version refusal
 * says which version was last handed out and how long ago, so the client can pick the
 * next one (client/update-loop.ts). Every other error's details go to the log only.
 */
const PUBLIC_DETAILS: Readonly<Record<string, readonly string[]>> = {
  VERSION_ROLLBACK: ['role', 'version', 'lastVersion', 'lastSignedAgeMs', 'leaseMs'],
  VERSION_JUMP: ['role', 'version', 'lastVersion', 'maxVersion'],
};

function publicDetails(err: unknown): Record<string, unknown> | undefined {
  if (!isNotaryHsmError(err)) return undefined;
  const names = PUBLIC_DETAILS[err.code];
  if (!names) return undefined;
  const out: Record<string, unknown> = {};
  for (const n of names) if (err.details[n] !== undefined) out[n] = err.details[n];
  return out;
}

interface Described {
  code: string;
  status: number;
  message: string;
  headers: Readonly<Record<string, string>>;
}

const GENERIC: Readonly<Record<number, string>> = {
  500: 'internal error; the daemon log has the details (look for this request ID)',
  502: 'an upstream server failed; the daemon log has the details',
  503: 'a token or module needed for this request is unavailable; try again later',
  504: 'the token did not answer in time (a touch or PIN entry that never came?)',
};

/** Codes for the 4xx errors that libraries raise with http-errors. */
const STATUS_CODES: Readonly<Record<number, string>> = {
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'BODY_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

function describe(err: unknown): Described {
  if (err instanceof HttpError || isNotaryHsmError(err)) {
    const status = statusForCode(err.code);
    const headers: Record<string, string> = err instanceof HttpError ? { ...err.headers } : {};
    if (err.code === 'TOKEN_BUSY') headers['Retry-After'] = '1';
    if (status === 401) headers['WWW-Authenticate'] = 'Bearer realm="notary-hsmd"';
    const message = status < 500 ? err.message : (GENERIC[status] ?? GENERIC[500] ?? '');
    return { code: err.code, status, message, headers };
  }
  // http-errors from a library (koa, the router): keep the 4xx status, never a 5xx text.
  const e = err as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true) {
    return {
      code: STATUS_CODES[e.status] ?? 'BAD_REQUEST',
      status: e.status,
      message: typeof e.message === 'string' ? e.message : 'bad request',
      headers: {},
    };
  }
  return {
    code: 'INTERNAL',
    status: 500,
    message: GENERIC[500] ?? '',
    headers: {},
  };
}

function logFields(err: unknown, d: Described, requestId: string): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    event: 'http_error',
    code: d.code,
    status: d.status,
    requestId,
  };
  if (err instanceof Error) {
    fields.errorMessage = err.message;
    if (isNotaryHsmError(err) || err instanceof HttpError) fields.details = err.details;
    if (d.status >= 500) fields.stack = err.stack;
    if (err.cause instanceof Error) fields.cause = err.cause.message;
  } else {
    fields.errorMessage = String(err);
  }
  return fields;
}

export function errorHandler(deps: { logger: winston.Logger }): DaemonMiddleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const d = describe(err);
      try {
        const fields = logFields(err, d, ctx.state.requestId);
        if (d.status >= 500) deps.logger.error('request failed', fields);
        else deps.logger.info('request refused', fields);
      } catch {
        // The answer matters more than the log line.
      }
      if (ctx.headerSent || !ctx.writable) return;
      ctx.status = d.status;
      for (const [name, value] of Object.entries(d.headers)) ctx.set(name, value);
      ctx.set(REQUEST_ID_HEADER, ctx.state.requestId);
      const details = publicDetails(err);
      const body: ErrorBody = {
        error: {
          code: d.code,
          message: d.message,
          requestId: ctx.state.requestId,
          ...(details ? { details } : {}),
        },
      };
      ctx.body = body;
    }
  };
}
