/**
 * createApp builds notary-hsmd's Koa application from its services, without listening,
 * so every route can be exercised with supertest and no token attached.
 *
 * Middleware order, outermost first, and why (0 only sets `X-Content-Type-Options`):
 *  1. request ID — picks the ID and sets `X-Request-Id` before anything can fail, so every
 *     answer (errors included) carries it; it cannot throw.
 *  2. access log + metrics — outside the error middleware so they record the status the
 *     caller really got; they cannot throw either.
 *  3. error middleware — the first layer that can see an error: everything that may
 *     throw runs inside it and is answered in the one error format.
 *  4. Host allowlist — DNS-rebinding defence, before any route or service runs.
 *  5. body headers — a declared length over the limit (413) or a non-JSON body (415) is
 *     refused from the headers alone, before authentication and before reading a byte.
 *  6. routes — per route: authenticate, then read the body (counted while streaming),
 *     parse it strictly, check its shape, call the service once.
 *  7. fallback — 405 with `Allow` for a known path, else 404.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { Registry } from 'prom-client';
import type winston from 'winston';
import { NotaryHsmError } from '../src/errors';
import { log } from '../src/log';
import type { DaemonServices } from '../src/signing/types';
import { bodyHeaders, DEFAULT_BODY_BYTES } from './http/body';
import type { DaemonMiddleware, DaemonState } from './http/context';
import { HttpError } from './http/errors';
import { DaemonMetrics } from './metrics';
import { accessLog } from './middleware/access-log';
import { errorHandler } from './middleware/error';
import { hostAllowlist, LOOPBACK_HOSTS } from './middleware/host-allowlist';
import { requestId } from './middleware/request-id';
import { registerHealthRoutes } from './routes/health';
import { registerMetaRoutes } from './routes/meta';
import { registerV1Routes } from './routes/v1';

/** What the HTTP layer needs; main.ts builds it from the configuration. */
export interface AppDeps {
  services: DaemonServices;
  /** Default: the project logger. */
  logger?: winston.Logger;
  limits?: {
    /** Request body limit in bytes (default 1 MiB). */
    bodyBytes?: number;
    /**
     * Accepted Host headers, `host` (any port) or `host:port`. Default: 127.0.0.1,
     * localhost and [::1] on any port; main.ts narrows it with allowedHostsFor(listen, extra)
     * from daemon/server.ts.
     */
    allowedHosts?: string[];
    /** How long /readyz waits for `services.readiness()` (default 5 s). */
    readinessTimeoutMs?: number;
  };
  /** Registry for the daemon's metrics (default: a fresh one, never the global registry). */
  metrics?: Registry;
}

/** 405 with `Allow` when the path exists with other methods, else 404. */
function fallback(): DaemonMiddleware {
  return (ctx) => {
    const layers = (ctx as { matched?: readonly { methods: readonly string[] }[] }).matched ?? [];
    const methods = [...new Set(layers.flatMap((l) => l.methods))];
    if (methods.length === 0) {
      throw new HttpError('NOT_FOUND', 'no such route; GET /openapi.json lists them');
    }
    const allow = methods.join(', ');
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      ctx.set('Allow', allow);
      return;
    }
    throw new HttpError('METHOD_NOT_ALLOWED', `this route answers ${allow}`, {
      headers: { Allow: allow },
    });
  };
}

/**
 * Builds the Koa application.
 * throws: CONFIG_INVALID for a body limit that is not a positive integer or a bad host entry
 */
export function createApp(deps: AppDeps): Koa<DaemonState> {
  const logger = deps.logger ?? log();
  const bodyBytes = deps.limits?.bodyBytes ?? DEFAULT_BODY_BYTES;
  if (!Number.isSafeInteger(bodyBytes) || bodyBytes < 1) {
    throw new NotaryHsmError('CONFIG_INVALID', 'the request body limit must be a positive integer');
  }
  const metrics = new DaemonMetrics(deps.metrics ?? new Registry());

  const router = new Router<DaemonState>();
  registerHealthRoutes(router, {
    services: deps.services,
    logger,
    ...(deps.limits?.readinessTimeoutMs === undefined
      ? {}
      : { readinessTimeoutMs: deps.limits.readinessTimeoutMs }),
  });
  registerMetaRoutes(router, { services: deps.services, logger, metrics });
  registerV1Routes(router, { services: deps.services, bodyBytes });

  const app = new Koa<DaemonState>({ proxy: false });
  // Everything is answered by the error middleware; anything Koa still reports goes to
  // the project log instead of stderr.
  app.silent = true;
  app.on('error', (err: unknown) => {
    logger.error('koa error outside the middleware', {
      event: 'koa_error',
      errorMessage: err instanceof Error ? err.message : String(err),
    });
  });

  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });
  app.use(requestId());
  app.use(accessLog({ logger, metrics }));
  app.use(errorHandler({ logger }));
  app.use(hostAllowlist(deps.limits?.allowedHosts ?? LOOPBACK_HOSTS));
  app.use(bodyHeaders(bodyBytes));
  app.use(router.routes());
  app.use(fallback());
  return app;
}
