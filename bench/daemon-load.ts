/**
 * The load side of bench/daemon.ts, in a process of its own (forked by the bench), so
 * that neither the daemon's figures nor the /healthz poller's share an event loop with
 * the 32 clients. The bench forks it twice: one process drives the signing clients, the
 * other polls /healthz. Tasks arrive over IPC (the client token comes this way, never on
 * a command line) and each is answered with its result.
 *
 * Signing clients are closed-loop: each sends its next request as soon as the previous
 * answer is read, over a keep-alive connection of its own (node:http Agent keepAlive,
 * maxSockets = clients). Client i signs `targets/ci` of GUN `<gunPrefix><i>` with version
 * 1, 2, 3, … — strictly increasing per GUN and role for the life of this process, across
 * tasks, as the daemon demands (anything else is a rollback) — and one target `v<n>`.
 */
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { summarize, type LatencySummary } from './latency';
import { FileMeta } from '../src/metadata/file-meta';
import { Targets } from '../src/metadata/targets';
import { GoTime } from '../src/metadata/time';
export { summarize, type LatencySummary } from './latency';

export interface SignTask {
  readonly kind: 'sign';
  readonly url: string;
  readonly token: string;
  readonly clients: number;
  readonly gunPrefix: string;
  readonly role: string;
  /** Requests finishing during this first part are not measured (errors still count). */
  readonly warmupSeconds: number;
  readonly seconds: number;
}

export interface SignResult {
  /** Successful signatures finished inside the measured window. */
  readonly signed: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Every request of the task, warm-up and drain included: `200`, `409 VERSION_ROLLBACK`, `ECONNRESET`. */
  readonly outcomes: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly latency: LatencySummary;
  /** CPU of this process during the measured window, % of one core. */
  readonly loadCpu: number;
}

/** `count` sign requests at once; answered when all of them have an answer. */
export interface FireTask {
  readonly kind: 'fire';
  readonly url: string;
  readonly token: string;
  readonly count: number;
  readonly gunPrefix: string;
  readonly role: string;
}

export interface FireResult {
  readonly outcomes: Readonly<Record<string, number>>;
  readonly latency: LatencySummary;
}

/** GETs `path` every `intervalMs` (one at a time, one keep-alive connection) until `stop`. */
export interface PollTask {
  readonly kind: 'poll';
  readonly url: string;
  readonly path: string;
  readonly intervalMs: number;
}

export interface PollResult {
  readonly outcomes: Readonly<Record<string, number>>;
  readonly latency: LatencySummary;
  readonly seconds: number;
}

export type LoadTask = SignTask | FireTask | PollTask | { readonly kind: 'stop' };
export type LoadReply =
  | { readonly ok: true; readonly result: SignResult | FireResult | PollResult }
  | { readonly ok: false; readonly error: string };

interface Answer {
  /** `200`, `409 VERSION_ROLLBACK`, or a socket error code. */
  readonly outcome: string;
  readonly ok: boolean;
}

/** One request; never rejects (a failure is an outcome). */
function send(
  agent: Agent,
  url: URL,
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string | number>,
  body?: Buffer,
): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, method, path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e: NodeJS.ErrnoException) =>
          resolve({ outcome: e.code ?? 'RESPONSE_ERROR', ok: false }),
        );
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (status === 200) {
            // a signature answer must carry one; /healthz and /readyz their status
            const good = method === 'GET' || text.includes('"sig"');
            resolve({ outcome: good ? '200' : '200 NO_SIGNATURE', ok: good });
            return;
          }
          let code = '';
          try {
            const parsed = JSON.parse(text) as { error?: { code?: unknown } };
            if (typeof parsed.error?.code === 'string') code = ` ${parsed.error.code}`;
          } catch {
            // not JSON: the status alone
          }
          resolve({ outcome: `${status}${code}`, ok: false });
        });
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ outcome: e.code ?? 'REQUEST_ERROR', ok: false }),
    );
    req.end(body);
  });
}

/** The next version per GUN, for the life of this process. */
const versions = new Map<string, number>();
const expires = GoTime.daysFromNow(30);

/** A sign/delegation body for `gun`: the next version, one target `v<n>` with a sha256. */
function signBody(gun: string, role: string): Buffer {
  const version = (versions.get(gun) ?? 0) + 1;
  versions.set(gun, version);
  const name = `v${version}`;
  const digest = createHash('sha256').update(`${gun}:${name}`).digest();
  const signed = new Targets({
    expires,
    version,
    targets: new Map([[name, FileMeta.sha256(digest, 1024 + version)]]),
  }).toJson();
  return Buffer.from(JSON.stringify({ gun, role, signed }));
}

/** POSTs a sign/delegation `body` (signBody) on `agent`. */
function postSign(agent: Agent, url: URL, token: string, body: Buffer): Promise<Answer> {
  const headers = {
    Host: url.host,
    Authorization: `Bearer ${token}`,
    'Content-Type': 'application/json',
    'Content-Length': body.length,
  };
  return send(agent, url, 'POST', '/v1/sign/delegation', headers, body);
}

function count(outcomes: Record<string, number>, outcome: string): void {
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function runSign(task: SignTask): Promise<SignResult> {
  const url = new URL(task.url);
  const agent = new Agent({ keepAlive: true, maxSockets: task.clients });
  const outcomes: Record<string, number> = {};
  const latencies: number[] = [];
  const start = performance.now();
  const from = start + task.warmupSeconds * 1000;
  const until = from + task.seconds * 1000;
  let signed = 0;
  let cpuFrom: number | undefined;
  let cpuAt: number | undefined;
  const cpuMark = setTimeout(() => {
    cpuFrom = cpuMs();
    cpuAt = performance.now();
  }, from - start);
  const client = async (i: number): Promise<void> => {
    const gun = `${task.gunPrefix}${i}`;
    while (performance.now() < until) {
      const body = signBody(gun, task.role);
      const t0 = performance.now();
      const a = await postSign(agent, url, task.token, body);
      const t1 = performance.now();
      count(outcomes, a.outcome);
      if (a.ok && t1 >= from && t1 <= until) {
        signed++;
        latencies.push(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: task.clients }, (_, i) => client(i)));
  clearTimeout(cpuMark);
  const end = performance.now();
  const cpu =
    cpuFrom === undefined || cpuAt === undefined
      ? NaN
      : ((cpuMs() - cpuFrom) / (end - cpuAt)) * 100;
  agent.destroy();
  const errors = Object.entries(outcomes)
    .filter(([k]) => k !== '200')
    .reduce((n, [, v]) => n + v, 0);
  return {
    signed,
    seconds: task.seconds,
    perSecond: signed / task.seconds,
    outcomes,
    errors,
    latency: summarize(latencies),
    loadCpu: Math.round(cpu * 10) / 10,
  };
}

async function runFire(task: FireTask): Promise<FireResult> {
  const url = new URL(task.url);
  const agent = new Agent({ keepAlive: true, maxSockets: task.count });
  const outcomes: Record<string, number> = {};
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: task.count }, async (_, i) => {
      const body = signBody(`${task.gunPrefix}${i}`, task.role);
      const t0 = performance.now();
      const a = await postSign(agent, url, task.token, body);
      latencies.push(performance.now() - t0);
      count(outcomes, a.outcome);
    }),
  );
  agent.destroy();
  return { outcomes, latency: summarize(latencies) };
}

let stopPolling: (() => void) | undefined;

async function runPoll(task: PollTask): Promise<PollResult> {
  const url = new URL(task.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const outcomes: Record<string, number> = {};
  const latencies: number[] = [];
  let stopped = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  stopPolling = () => {
    stopped = true;
    clearTimeout(timer);
    wake?.();
  };
  const start = performance.now();
  let next = start;
  while (!stopped) {
    const t0 = performance.now();
    const a = await send(agent, url, 'GET', task.path, { Host: url.host });
    latencies.push(performance.now() - t0);
    count(outcomes, a.outcome);
    next += task.intervalMs;
    const wait = next - performance.now();
    if (wait > 0 && !stopped) {
      await new Promise<void>((r) => {
        wake = r;
        timer = setTimeout(r, wait);
      });
    } else {
      next = performance.now();
    }
  }
  agent.destroy();
  return { outcomes, latency: summarize(latencies), seconds: (performance.now() - start) / 1000 };
}

function run(task: LoadTask): Promise<SignResult | FireResult | PollResult> | undefined {
  switch (task.kind) {
    case 'sign':
      return runSign(task);
    case 'fire':
      return runFire(task);
    case 'poll':
      return runPoll(task);
    case 'stop':
      stopPolling?.();
      return undefined;
  }
}

if (process.send) {
  process.on('message', (task: LoadTask) => {
    const p = run(task);
    p?.then(
      (result) => process.send?.({ ok: true, result } satisfies LoadReply),
      (err: unknown) =>
        process.send?.({
          ok: false,
          error: err instanceof Error ? err.message : String(err),
        } satisfies LoadReply),
    );
  });
  process.on('disconnect', () => process.exit(0));
}
