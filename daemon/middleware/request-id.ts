/**
 * Gives every request an ID: the caller's `X-Request-Id` when it is short and plain
 * (so a CI job can correlate its logs with ours), else a fresh UUID. The ID goes on the
 * response before anything else runs, so every answer carries it, errors included.
 * This middleware cannot fail.
 */
import { randomUUID } from 'node:crypto';
import type { DaemonMiddleware } from '../http/context';

const ACCEPTABLE = /^[A-Za-z0-9._-]{1,64}$/;

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** Picks or generates the request ID and sets the response header. */
export function requestId(): DaemonMiddleware {
  return async (ctx, next) => {
    const offered = ctx.get(REQUEST_ID_HEADER);
    const id = ACCEPTABLE.test(offered) ? offered : randomUUID();
    ctx.state.requestId = id;
    ctx.set(REQUEST_ID_HEADER, id);
    await next();
  };
}
