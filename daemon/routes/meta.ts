/**
 * The daemon's descriptions of itself: Prometheus metrics (loopback peers only: queue
 * depths and PIN states are nobody else's business) and the OpenAPI document.
 */
import type Router from '@koa/router';
import type winston from 'winston';
import { NotaryHsmError } from '../../src/errors';
import type { DaemonServices } from '../../src/signing/types';
import type { DaemonState } from '../http/context';
import { isLocalPeer } from '../http/loopback';
import type { DaemonMetrics } from '../metrics';
import { OPENAPI } from '../openapi';

/** How long a scrape waits for the token gauges (a stuck module must not hang /metrics). */
const GAUGES_MS = 5000;

function withinMs<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`token gauges not read within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export function registerMetaRoutes(
  router: Router<DaemonState>,
  deps: { services: DaemonServices; logger: winston.Logger; metrics: DaemonMetrics },
): void {
  router.get('/metrics', async (ctx) => {
    if (!isLocalPeer(ctx.req.socket.remoteAddress)) {
      throw new NotaryHsmError('FORBIDDEN', '/metrics is served to loopback clients only');
    }
    try {
      deps.metrics.updateTokenGauges(await withinMs(deps.services.tokenGauges(), GAUGES_MS));
    } catch (err) {
      // HTTP metrics are still worth serving when the token gauges cannot be read.
      deps.logger.warn('token gauges unavailable', {
        event: 'metrics_gauges_failed',
        requestId: ctx.state.requestId,
        errorMessage: err instanceof Error ? err.message : String(err),
      });
    }
    const { contentType, text } = await deps.metrics.render();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = contentType;
    ctx.body = text;
  });

  router.get('/openapi.json', (ctx) => {
    ctx.body = OPENAPI;
  });
}
