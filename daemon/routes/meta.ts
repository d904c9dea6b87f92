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

export function registerMetaRoutes(
  router: Router<DaemonState>,
  deps: { services: DaemonServices; logger: winston.Logger; metrics: DaemonMetrics },
): void {
  router.get('/metrics', async (ctx) => {
    if (!isLocalPeer(ctx.req.socket.remoteAddress)) {
      throw new NotaryHsmError('FORBIDDEN', '/metrics is served to loopback clients only');
    }
    try {
      deps.metrics.updateTokenGauges(deps.services.tokenGauges());
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
