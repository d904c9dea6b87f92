/**
 * What the daemon's middleware keeps on a Koa context: the request ID every response
 * carries and, once the bearer token was checked, the authenticated client.
 */
import type { Middleware, ParameterizedContext } from 'koa';
import type { Client } from '../../src/signing/types';

/** Per-request state shared by the middleware and routes. */
export interface DaemonState {
  /** The daemon's own ID of the request (a UUID). */
  requestId: string;
  /** The caller's `X-Request-Id`, when it sent a sane one (kept for correlation only). */
  clientRequestId?: string;
  /** Set by the routes under /v1/ after `services.authenticate`. */
  client?: Client;
}

export type DaemonContext = ParameterizedContext<DaemonState>;
export type DaemonMiddleware = Middleware<DaemonState>;
