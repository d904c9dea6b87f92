/**
 * Request bodies: bounded, JSON only, parsed strictly. The size limit is enforced twice:
 * a declared Content-Length over the limit is refused before a byte is read, and the
 * stream is counted while it arrives (chunked bodies have no length), so at most
 * `limit` bytes are ever buffered. The bytes go through the project's strict JSON reader
 * (duplicate members refused, `__proto__` kept as a plain member, depth bounded, numbers
 * integral as in Notary metadata).
 */
import type { IncomingMessage } from 'node:http';
import { isNotaryHsmError } from '../../src/errors';
import { parseJsonKeeping, type Defer, type KeptJson } from '../../src/metadata/json';
import type { DaemonContext, DaemonMiddleware } from './context';
import { HttpError } from './errors';

/** Default request body limit: 1 MiB. */
export const DEFAULT_BODY_BYTES = 1024 * 1024;

const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

function tooLarge(limit: number): HttpError {
  return new HttpError('BODY_TOO_LARGE', `the request body exceeds the limit of ${limit} bytes`, {
    // The rest of the body is not read; closing the connection stops the upload.
    headers: { Connection: 'close' },
  });
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** True for `application/json` with no parameter other than `charset=utf-8`. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [type, ...params] = contentType.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => p === '' || /^charset="?utf-8"?$/.test(p));
}

/**
 * Header-only checks for methods that carry a body, before routing and authentication:
 * a declared length over the limit (413), a body that is not JSON or is content-encoded
 * (415). Nothing is read here.
 */
export function bodyHeaders(limit: number): DaemonMiddleware {
  return async (ctx, next) => {
    if (WITH_BODY.has(ctx.method) && hasBody(ctx.req)) {
      const declared = ctx.req.headers['content-length'];
      if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
      const encoding = ctx.req.headers['content-encoding'];
      if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
        throw new HttpError('UNSUPPORTED_MEDIA_TYPE', 'content-encoded bodies are not accepted');
      }
      if (!isJsonMediaType(ctx.req.headers['content-type'])) {
        throw new HttpError(
          'UNSUPPORTED_MEDIA_TYPE',
          'the request body must be sent as Content-Type: application/json',
        );
      }
    }
    await next();
  };
}

/** Reads at most `limit` bytes of `req`; refuses the body as soon as it grows past it. */
export function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err: Error | undefined, body?: Buffer): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      if (err) reject(err);
      else resolve(body ?? Buffer.alloc(0));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        settle(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => settle(undefined, Buffer.concat(chunks, size));
    const onError = (): void =>
      settle(new HttpError('BAD_REQUEST', 'the request body could not be read'));
    const onClose = (): void =>
      settle(new HttpError('BAD_REQUEST', 'the connection closed before the body was complete'));
    if (req.readableEnded) {
      settle(undefined, Buffer.alloc(0));
      return;
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * The request body as a JSON value, and the bytes of its top-level member `keep` when the
 * body wrote that member's value in canonical form (parseJsonKeeping).
 * throws: BODY_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, BAD_JSON
 */
export async function readJsonBody<T = never>(
  ctx: DaemonContext,
  limit: number,
  keep?: string,
  defer?: Defer<T>,
): Promise<KeptJson<T>> {
  if (!hasBody(ctx.req)) throw new HttpError('BAD_JSON', 'this endpoint needs a JSON object body');
  if (!isJsonMediaType(ctx.req.headers['content-type'])) {
    throw new HttpError(
      'UNSUPPORTED_MEDIA_TYPE',
      'the request body must be sent as Content-Type: application/json',
    );
  }
  const bytes = await readLimited(ctx.req, limit);
  if (bytes.length === 0) throw new HttpError('BAD_JSON', 'this endpoint needs a JSON object body');
  try {
    return parseJsonKeeping(bytes, keep, { integersOnly: true, ...(defer ? { defer } : {}) });
  } catch (err) {
    if (isNotaryHsmError(err)) {
      throw new HttpError('BAD_JSON', `the body is not acceptable JSON: ${err.message}`, {
        details: { reason: err.code },
      });
    }
    throw err;
  }
}
