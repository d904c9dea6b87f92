/**
 * The daemon's Prometheus metrics, kept in a registry the composition root owns (never
 * prom-client's global one, so two apps in one process do not collide): requests by
 * route and status, latency per route, token gauges read from the services at scrape
 * time, and a hook for the token owners to report how long each operation took.
 * Labels are bounded: routes are route patterns (or `unmatched`), never raw paths.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SigningDecision } from '../src/signing/service';
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
  updateTokenGauges(gauges: Awaited<ReturnType<DaemonServices['tokenGauges']>>): void {
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

/** The package's version, from the package.json above this file (source or dist). */
function packageVersion(): string {
  for (const dir of [join(__dirname, '..'), join(__dirname, '..', '..')]) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'notary-hsm' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // an unreadable file: keep looking
    }
  }
  return 'unknown';
}

/**
 * The process-wide metrics of a running daemon (the composition root calls this once per
 * registry): prom-client's default process and Node.js metrics (CPU, memory, file
 * descriptors, event-loop delay, GC) under their usual names, and
 * `notary_hsmd_build_info{version,node}` = 1.
 */
export function processMetrics(registry: Registry): void {
  if (registry.getSingleMetric('process_cpu_seconds_total') === undefined) {
    collectDefaultMetrics({ register: registry });
  }
  const name = `${PREFIX}build_info`;
  const info = metric(
    registry,
    name,
    () =>
      new Gauge({
        name,
        help: 'Always 1; the labels say which notary-hsmd and which Node.js runs',
        labelNames: ['version', 'node'] as const,
        registers: [registry],
      }),
  );
  info.set({ version: packageVersion(), node: process.version }, 1);
}

/**
 * Counters of the signing pipeline's audited decisions: `signatures_total` (signatures
 * made, by endpoint), `refusals_total` (requests refused, by endpoint and code) and
 * `sign_failures_total` (allowed requests whose token failed, by endpoint and code).
 * Endpoints and codes are fixed sets, so the labels are bounded.
 */
export function decisionObserver(registry: Registry): (d: SigningDecision) => void {
  const counter = (suffix: string, help: string, labelNames: readonly string[]) =>
    metric(
      registry,
      `${PREFIX}${suffix}`,
      () => new Counter({ name: `${PREFIX}${suffix}`, help, labelNames, registers: [registry] }),
    );
  const signatures = counter('signatures_total', 'Signatures made, by endpoint', ['endpoint']);
  const refusals = counter(
    'refusals_total',
    'Requests refused (and audited), by endpoint and error code',
    ['endpoint', 'code'],
  );
  const failures = counter(
    'sign_failures_total',
    'Allowed requests that failed at the token, by endpoint and error code',
    ['endpoint', 'code'],
  );
  return (d) => {
    if (d.outcome === 'signed') {
      if (d.signatures !== undefined) signatures.inc({ endpoint: d.endpoint }, d.signatures);
    } else {
      (d.outcome === 'refused' ? refusals : failures).inc({
        endpoint: d.endpoint,
        code: d.code ?? 'UNKNOWN',
      });
    }
  };
}
