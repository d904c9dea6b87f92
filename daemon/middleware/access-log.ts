/**
 * One JSON access log line and the request metrics per answered request. It sits outside
 * the error middleware so it records the status the caller actually got. It logs what
 * happened, never what was said: method, path, status, duration, request ID and client
 * name — no headers (so no bearer token), no query string, no body (so no PIN).
 * Logging and metrics can never fail a request.
 */
import type winston from 'winston';
import type { DaemonContext, DaemonMiddleware } from '../http/context';
import type { DaemonMetrics } from '../metrics';

const MAX_PATH = 256;

/** Routes that monitoring polls; their lines are logged at debug. */
const PROBE_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** The route pattern the router matched, or `unmatched` (bounded metric labels). */
export function routeLabel(ctx: DaemonContext): string {
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' ? matched : 'unmatched';
}

export function accessLog(deps: {
  logger: winston.Logger;
  metrics: DaemonMetrics;
}): DaemonMiddleware {
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      try {
        const route = routeLabel(ctx);
        deps.metrics.observeRequest(ctx.method, route, ctx.status, seconds);
        // One object: winston's single-argument path, the same line as info('request', {…}).
        // Probes (health, readiness, metrics) come every few seconds: debug, not info.
        deps.logger.log({
          level: PROBE_ROUTES.has(route) ? 'debug' : 'info',
          message: 'request',
          event: 'http_request',
          method: ctx.method,
          path: ctx.path.length > MAX_PATH ? `${ctx.path.slice(0, MAX_PATH)}…` : ctx.path,
          route,
          status: ctx.status,
          ms: Math.round(seconds * 1e6) / 1e3,
          requestId: ctx.state.requestId,
          clientRequestId: ctx.state.clientRequestId,
          client: ctx.state.client?.name,
        });
      } catch {
        // A failing log transport or metric must not turn an answer into an error.
      }
    }
  };
}
