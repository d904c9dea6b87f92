/**
 * The daemon's Prometheus metrics, kept in a registry the composition root owns (never
 * prom-client's global one, so two apps in one process do not collide): requests by
 * route and status, latency per route, token gauges read from the services at scrape
 * time, and a hook for the token owners to report how long each operation took.
 * Labels are bounded: routes are route patterns (or `unmatched`), never raw paths.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DaemonServices } from '../src/signing/types';

const PREFIX = 'notary_hsmd_';
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const PIN_STATES = ['ok', 'count_low', 'final_try', 'locked', 'unknown'] as const;

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** One observation of a token operation (sign, login, find, generate…). */
export interface TokenOperationObservation {
  token: string;
  operation: string;
  /** `ok`, or the error code it failed with. */
  outcome: string;
  seconds: number;
}

/**
 * The hook for token operation latency: main.ts hands it to whatever runs token work.
 * Calling it twice for one registry returns observers of the same histogram.
 */
export function tokenOperationObserver(registry: Registry): (o: TokenOperationObservation) => void {
  const name = `${PREFIX}token_operation_duration_seconds`;
  const histogram = metric(
    registry,
    name,
    () =>
      new Histogram({
        name,
        help: 'Duration of token operations (PKCS#11 calls including queueing), by token, operation and outcome',
        labelNames: ['token', 'operation', 'outcome'] as const,
        buckets: [
          0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
        ],
        registers: [registry],
      }),
  );
  return (o) =>
    histogram.observe({ token: o.token, operation: o.operation, outcome: o.outcome }, o.seconds);
}

/** HTTP and token metrics of one app. */
export class DaemonMetrics {
  readonly registry: Registry;
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route'>;
  private readonly queueDepth: Gauge<'token'>;
  private readonly present: Gauge<'token'>;
  private readonly pinState: Gauge<'token' | 'state'>;

  constructor(registry: Registry) {
    this.registry = registry;
    const registers = [registry];
    this.requests = metric(
      registry,
      `${PREFIX}http_requests_total`,
      () =>
        new Counter({
          name: `${PREFIX}http_requests_total`,
          help: 'HTTP requests answered, by method, route pattern and status code',
          labelNames: ['method', 'route', 'status'] as const,
          registers,
        }),
    );
    this.latency = metric(
      registry,
      `${PREFIX}http_request_duration_seconds`,
      () =>
        new Histogram({
          name: `${PREFIX}http_request_duration_seconds`,
          help: 'Time from receiving a request to answering it, by method and route pattern',
          labelNames: ['method', 'route'] as const,
          buckets: [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
          ],
          registers,
        }),
    );
    this.queueDepth = metric(
      registry,
      `${PREFIX}token_queue_depth`,
      () =>
        new Gauge({
          name: `${PREFIX}token_queue_depth`,
          help: 'Operations waiting for or running on each token',
          labelNames: ['token'] as const,
          registers,
        }),
    );
    this.present = metric(
      registry,
      `${PREFIX}token_present`,
      () =>
        new Gauge({
          name: `${PREFIX}token_present`,
          help: '1 when the token is present, 0 when it is not (absent when unknown)',
          labelNames: ['token'] as const,
          registers,
        }),
    );
    this.pinState = metric(
      registry,
      `${PREFIX}token_pin_state`,
      () =>
        new Gauge({
          name: `${PREFIX}token_pin_state`,
          help: '1 for the PIN state each token reports (ok, count_low, final_try, locked, unknown)',
          labelNames: ['token', 'state'] as const,
          registers,
        }),
    );
  }

  /** Counts one answered request. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const m = METHODS.has(method) ? method : 'OTHER';
    this.requests.inc({ method: m, route, status: String(status) });
    this.latency.observe({ method: m, route }, seconds);
  }

  /** Refreshes the token gauges from the services (called at scrape time). */
  updateTokenGauges(gauges: ReturnType<DaemonServices['tokenGauges']>): void {
    this.queueDepth.reset();
    this.present.reset();
    this.pinState.reset();
    for (const g of gauges) {
      this.queueDepth.set({ token: g.token }, g.queueDepth);
      if (g.present !== undefined) this.present.set({ token: g.token }, g.present ? 1 : 0);
      const current = (PIN_STATES as readonly string[]).includes(g.pinState ?? '')
        ? g.pinState
        : 'unknown';
      for (const state of PIN_STATES) {
        this.pinState.set({ token: g.token, state }, state === current ? 1 : 0);
      }
    }
  }

  /** The Prometheus text exposition. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
