/**
 * Liveness and readiness. `/healthz` answers from the process alone — it never calls a
 * service, so it answers while a token waits for a touch. `/readyz` asks the services
 * whether every configured token is present and usable (they never log in for it; a token
 * busy with an operation, such as a signature waiting for a touch, counts as present).
 */
import type Router from '@koa/router';
import type winston from 'winston';
import type { DaemonServices } from '../../src/signing/types';
import type { DaemonState } from '../http/context';

/** How long /readyz waits for the services before answering 503 (default 5 s). */
export const DEFAULT_READINESS_TIMEOUT_MS = 5000;

/** The services' readiness, or a rejection after `ms` (a stuck token must not hang /readyz). */
async function readinessWithin(
  services: DaemonServices,
  ms: number,
): Promise<{ ready: boolean; problems: readonly string[] }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`readiness check did not finish in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([services.readiness(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealthRoutes(
  router: Router<DaemonState>,
  deps: { services: DaemonServices; logger: winston.Logger; readinessTimeoutMs?: number },
): void {
  const readinessMs = deps.readinessTimeoutMs ?? DEFAULT_READINESS_TIMEOUT_MS;
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    let ready: boolean;
    let problems: readonly string[];
    try {
      ({ ready, problems } = await readinessWithin(deps.services, readinessMs));
    } catch (err) {
      deps.logger.error('readiness check failed', {
        event: 'readiness_failed',
        requestId: ctx.state.requestId,
        errorMessage: err instanceof Error ? err.message : String(err),
      });
      ready = false;
      problems = ['the readiness check failed or timed out; the daemon log has the details'];
    }
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? { status: 'ready' } : { status: 'not_ready', problems: [...problems] };
  });
}
