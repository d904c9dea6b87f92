/**
 * Gives every request the daemon's own ID (a fresh UUID): the `X-Request-Id` of the
 * answer, the `requestId` of error bodies, the access log and the audit log. A caller's
 * own `X-Request-Id`, when it is short and plain, is kept beside it as `clientRequestId`
 * (in the logs and audit records, and echoed as `X-Client-Request-Id`) so that a CI job can
 * correlate its logs with ours — but a record is never identified by a value the caller
 * chose. The IDs are set before anything else runs, so every answer carries them, errors
 * included. This middleware cannot fail.
 */
import { randomUUID } from 'node:crypto';
import type { DaemonMiddleware } from '../http/context';

const ACCEPTABLE = /^[A-Za-z0-9._-]{1,64}$/;

export const REQUEST_ID_HEADER = 'X-Request-Id';
export const CLIENT_REQUEST_ID_HEADER = 'X-Client-Request-Id';

/** Generates the request ID, keeps a sane caller-chosen one, and sets the response headers. */
export function requestId(): DaemonMiddleware {
  return async (ctx, next) => {
    const id = randomUUID();
    ctx.state.requestId = id;
    ctx.set(REQUEST_ID_HEADER, id);
    const offered = ctx.get(REQUEST_ID_HEADER);
    if (ACCEPTABLE.test(offered)) {
      ctx.state.clientRequestId = offered;
      ctx.set(CLIENT_REQUEST_ID_HEADER, offered);
    }
    await next();
  };
}
