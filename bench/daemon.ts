/**
 * The daemon benchmark (design.md, "Numbers we hold ourselves to"), every figure measured
 * in one run and printed beside its reference and target:
 *
 *  1. raw     — pkcs11js alone, one session, synchronous C_SignInit + C_Sign in a tight
 *               loop, on a fresh SoftHSM2 token (bench/pkcs11-raw.ts in a forked process,
 *               before the daemon opens that token directory): THE reference rate.
 *     http    — a bare node:http server with a canned answer under the same clients
 *               (bench/daemon-ceiling.ts): what HTTP alone allows on this machine.
 *  2. load    — the real bin/notary-hsmd (one SoftHSM2 token, sessions 2, one delegation
 *               key, one CI client) under POST /v1/sign/delegation from 32 keep-alive
 *               closed-loop clients for --seconds: signatures/s, errors, latency, and the
 *               ratio to raw (target ≥ 50%); and, after a warm-up, 1 client sending
 *               sequential requests: p50 minus the raw per-signature time (target ≤ 0.5 ms).
 *  3. healthz — /healthz every 10 ms from a process of its own, during the full load and
 *               while a second daemon's token (the fault shim, sign_delay_ms=-1: a touch
 *               that never comes) holds sign requests (target p99 ≤ 5 ms); /readyz then.
 *
 *   node dist/bench/bench/daemon.js [--seconds 10] [--json] [--cpu-prof DIR] [--help]
 *
 * Everything started is stopped (daemons by SIGTERM), every temp directory removed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { cpus } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  summarize,
  type FireResult,
  type LatencySummary,
  type LoadReply,
  type LoadTask,
  type PollResult,
  type SignResult,
} from './daemon-load';
import {
  cpuBetween,
  cpuSnapshot,
  summarizeProfile,
  type ProfileSummary,
  type Watched,
} from './daemon-proc';
import {
  BENCH_GUN_PREFIX,
  BENCH_ROLE,
  buildFaultShim,
  cleanUp,
  killAllNow,
  makeDaemonSetup,
  makeTempDir,
  startDaemonProcess,
  type DaemonProcess,
} from './daemon-setup';
import type { RawResult, RawTask } from './pkcs11-raw';
import { FaultControl } from '../test/helpers/fault-shim';

const TARGET_RATIO = 0.5;
const TARGET_OVERHEAD_MS = 0.5;
const TARGET_HEALTHZ_P99_MS = 5;
const HEALTHZ_INTERVAL_MS = 10;
const SIGN_ROUTE = '/v1/sign/delegation';

interface Options {
  seconds: number;
  clients: number;
  warmupSeconds: number;
  lowSeconds: number;
  rawSeconds: number;
  ceilingSeconds: number;
  stuckSeconds: number;
  stuckRequests: number;
  json: boolean;
  cpuProf?: string;
}

const USAGE = `usage: node dist/bench/bench/daemon.js [options]
  --seconds N         full-load phase (32 clients) length (default 10)
  --clients N         keep-alive signing clients of the full-load phase (default 32)
  --warmup N          warm-up of the daemon before its measured phases (default 3)
  --low-seconds N     low-load phase (1 client, sequential) length (default 3)
  --raw-seconds N     each raw pkcs11js loop: sync, async, async on 2 sessions (default 3)
  --ceiling-seconds N bare node:http reference under the same clients (default 3; 0: skip)
  --stuck-seconds N   stuck-token window (default 6; /readyz gives up after 5 s)
  --stuck-requests N  sign requests held by the stuck token (default 4)
  --cpu-prof DIR      run the load daemon under --cpu-prof, keep the profiles in DIR and
                      print its top functions by self time (the figures then carry the
                      profiler's overhead: take them from a run without it)
  --json              also print the figures as one JSON line (the last line of stdout)`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string' },
      clients: { type: 'string' },
      warmup: { type: 'string' },
      'low-seconds': { type: 'string' },
      'raw-seconds': { type: 'string' },
      'ceiling-seconds': { type: 'string' },
      'stuck-seconds': { type: 'string' },
      'stuck-requests': { type: 'string' },
      'cpu-prof': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (name: string, v: string | undefined, dflt: number, min: number, max: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new Error(`--${name} must be a number from ${min} to ${max}`);
    }
    return n;
  };
  const cpuProf = values['cpu-prof'];
  return {
    seconds: num('seconds', values.seconds, 10, 1, 3600),
    clients: Math.round(num('clients', values.clients, 32, 1, 1024)),
    warmupSeconds: num('warmup', values.warmup, 3, 0, 600),
    lowSeconds: num('low-seconds', values['low-seconds'], 3, 1, 600),
    rawSeconds: num('raw-seconds', values['raw-seconds'], 3, 1, 600),
    ceilingSeconds: num('ceiling-seconds', values['ceiling-seconds'], 3, 0, 600),
    stuckSeconds: num('stuck-seconds', values['stuck-seconds'], 6, 1, 25),
    stuckRequests: Math.round(num('stuck-requests', values['stuck-requests'], 4, 1, 64)),
    json: values.json === true,
    ...(cpuProf ? { cpuProf: isAbsolute(cpuProf) ? cpuProf : resolve(cpuProf) } : {}),
  };
}

function progress(text: string): void {
  process.stderr.write(`bench/daemon: ${text}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** For a promise awaited later: a rejection meanwhile is not an unhandled one. */
function settleLater(p: Promise<unknown>): void {
  p.catch(() => undefined);
}

// ---------------------------------------------------------------------------------------
// Child processes: the raw reference, the bare HTTP server, the load generators

const children = new Set<ChildProcess>();

function forkTracked(module: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const child = fork(join(__dirname, module), [], {
    ...(env ? { env } : {}),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Disconnects a child (each of ours exits on that), SIGKILL if it is still there in 2 s. */
function release(child: ChildProcess): void {
  if (child.connected) child.disconnect();
  if (child.exitCode === null && child.signalCode === null) {
    setTimeout(() => child.kill('SIGKILL'), 2000).unref();
  }
}

/** Forks bench/pkcs11-raw.js on `task` (one process on the token directory at a time). */
function runRaw(task: RawTask, conf: string): Promise<RawResult> {
  const child = forkTracked('pkcs11-raw.js', { ...process.env, SOFTHSM2_CONF: conf });
  return new Promise((res, rej) => {
    let answered = false;
    child.once('message', (m: { ok: true; result: RawResult } | { ok: false; error: string }) => {
      answered = true;
      if (m.ok) res(m.result);
      else rej(new Error(`raw pkcs11js reference failed: ${m.error}`));
    });
    child.once('exit', (code) => {
      if (!answered) rej(new Error(`raw pkcs11js reference exited with ${String(code)}`));
    });
    child.send(task);
  });
}

/** A forked bench/daemon-load.js, one task at a time. */
class LoadProcess {
  readonly child: ChildProcess;
  private waiting?: { res: (v: unknown) => void; rej: (e: Error) => void };

  constructor() {
    this.child = forkTracked('daemon-load.js');
    this.child.on('message', (m: LoadReply) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (!w) return;
      if (m.ok) w.res(m.result);
      else w.rej(new Error(`load process: ${m.error}`));
    });
    this.child.once('exit', (code) => {
      this.waiting?.rej(new Error(`load process exited with ${String(code)}`));
      this.waiting = undefined;
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  run(task: LoadTask & { kind: 'sign' }): Promise<SignResult>;
  run(task: LoadTask & { kind: 'fire' }): Promise<FireResult>;
  run(task: LoadTask & { kind: 'poll' }): Promise<PollResult>;
  run(task: LoadTask): Promise<unknown> {
    if (this.waiting) return Promise.reject(new Error('load process busy'));
    return new Promise((res, rej) => {
      this.waiting = { res, rej };
      this.child.send(task);
    });
  }

  /** Ends a poll task (its result arrives through run()). */
  stopPolling(): void {
    this.child.send({ kind: 'stop' } satisfies LoadTask);
  }

  close(): void {
    release(this.child);
  }
}

/** One GET from this (idle) process: HTTP status, `status` member of the JSON body, time. */
function getOnce(url: string, path: string, timeoutMs: number): Promise<ReadyzAnswer> {
  const t0 = performance.now();
  return new Promise((res) => {
    const req = get(`${url}${path}`, { agent: new Agent({ keepAlive: false }) }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        let status = '';
        try {
          const b = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status?: unknown };
          status = typeof b.status === 'string' ? b.status : '';
        } catch {
          // not JSON
        }
        res({ status: r.statusCode ?? 0, body: status, ms: performance.now() - t0 });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) =>
      res({ status: e.code ?? e.message, body: '', ms: performance.now() - t0 }),
    );
  });
}

/** Runs `phase` with `watched` CPU sampled over [rampMs, rampMs + seconds] of it. */
async function withCpu<T>(
  watched: Watched,
  rampMs: number,
  seconds: number,
  phase: Promise<T>,
): Promise<{ result: T; cpu: Record<string, number> }> {
  settleLater(phase);
  await sleep(rampMs);
  const before = cpuSnapshot(watched);
  await sleep(seconds * 1000);
  const cpu = cpuBetween(before, cpuSnapshot(watched));
  return { result: await phase, cpu };
}

// ---------------------------------------------------------------------------------------
// Phases

interface CeilingFigures {
  full: SignResult;
  cpu: Record<string, number>;
  /** The bare server idle, polled like /healthz (the machine's own floor for that figure). */
  idlePoll: PollResult;
}

interface LoadFigures {
  raw: RawResult;
  rawPerOpMs: number;
  ceiling?: CeilingFigures;
  warmup: SignResult;
  low: SignResult;
  /** The daemon's own time per low-load request (its access log), ms. */
  lowInDaemon: LatencySummary;
  full: SignResult;
  healthz: PollResult;
  cpu: Record<string, number>;
  daemonExit: number | null;
  profile?: { daemon: ProfileSummary; hosts: ProfileSummary[]; dir: string };
}

async function ceilingPhase(o: Options): Promise<CeilingFigures> {
  progress(
    `bare node:http reference: ${o.clients} clients for ${o.ceilingSeconds} s, ` +
      `then idle and polled every ${HEALTHZ_INTERVAL_MS} ms for ${o.stuckSeconds} s`,
  );
  const server = forkTracked('daemon-ceiling.js');
  const load = new LoadProcess();
  try {
    const url = await new Promise<string>((res, rej) => {
      server.once('message', (m: { url: string }) => res(m.url));
      server.once('exit', (code) => rej(new Error(`bare server exited with ${String(code)}`)));
    });
    const watched: Watched = {
      server: server.pid ?? -1,
      serverLabel: 'bare server',
      others: { 'load generator': load.pid },
    };
    const phase = load.run({
      kind: 'sign',
      url,
      token: 'unused',
      clients: o.clients,
      gunPrefix: `${BENCH_GUN_PREFIX}http`,
      role: BENCH_ROLE,
      warmupSeconds: 1,
      seconds: o.ceilingSeconds,
    });
    const { result, cpu } = await withCpu(watched, 1000, o.ceilingSeconds, phase);
    const polling = load.run({
      kind: 'poll',
      url,
      path: '/healthz',
      intervalMs: HEALTHZ_INTERVAL_MS,
    });
    settleLater(polling);
    await sleep(o.stuckSeconds * 1000);
    load.stopPolling();
    return { full: result, cpu, idlePoll: await polling };
  } finally {
    load.close();
    release(server);
  }
}

async function loadPhases(o: Options): Promise<LoadFigures> {
  progress('creating a SoftHSM2 token and the delegation key');
  const setup = await makeDaemonSetup({ prefix: 'load-', sessions: 2 });

  progress(`raw pkcs11js reference (3 loops of ${o.rawSeconds} s)`);
  const raw = await runRaw(
    {
      module: setup.module,
      tokenLabel: setup.token.label,
      keyLabel: setup.keyLabel,
      pin: setup.token.pin,
      seconds: o.rawSeconds,
      warmupSeconds: 1,
    },
    setup.token.conf,
  );
  const rawPerOpMs = 1000 / raw.sync.perSecond;
  const ceiling = o.ceilingSeconds > 0 ? await ceilingPhase(o) : undefined;

  if (o.cpuProf) mkdirSync(o.cpuProf, { recursive: true });
  const daemon = await startDaemonProcess(setup.config, o.cpuProf ? { cpuProfDir: o.cpuProf } : {});
  progress(`notary-hsmd listening at ${daemon.url}`);
  const load = new LoadProcess();
  const poll = new LoadProcess();
  try {
    const sign = (clients: number, warmupSeconds: number, seconds: number) =>
      load.run({
        kind: 'sign',
        url: daemon.url,
        token: setup.clientToken,
        clients,
        gunPrefix: BENCH_GUN_PREFIX,
        role: BENCH_ROLE,
        warmupSeconds,
        seconds,
      });

    progress(`warm-up: ${o.clients} clients for ${o.warmupSeconds} s`);
    const warmup = await sign(o.clients, o.warmupSeconds, 0);
    progress(`low load: 1 client, sequential, ${o.lowSeconds} s`);
    const inDaemon = daemon.collectRequestMs(SIGN_ROUTE);
    const low = await sign(1, 0.5, o.lowSeconds);
    const lowInDaemon = summarize(inDaemon.take());

    progress(
      `full load: ${o.clients} clients for ${o.seconds} s, /healthz every ${HEALTHZ_INTERVAL_MS} ms`,
    );
    const polling = poll.run({
      kind: 'poll',
      url: daemon.url,
      path: '/healthz',
      intervalMs: HEALTHZ_INTERVAL_MS,
    });
    settleLater(polling);
    const watched: Watched = {
      server: daemon.child.pid ?? -1,
      serverLabel: 'daemon',
      others: {
        'load generator': load.pid,
        'healthz poller': poll.pid,
        'bench itself': process.pid,
      },
    };
    // CPU is sampled over the measured window only (after the 1 s ramp)
    const { result: full, cpu } = await withCpu(
      watched,
      1000,
      o.seconds,
      sign(o.clients, 1, o.seconds),
    );
    poll.stopPolling();
    const healthz = await polling;

    const daemonExit = await daemon.stop();
    progress(`notary-hsmd stopped (exit ${String(daemonExit)})`);
    const profile = o.cpuProf ? profiles(o.cpuProf, daemon) : undefined;
    return {
      raw,
      rawPerOpMs,
      ...(ceiling ? { ceiling } : {}),
      warmup,
      low,
      lowInDaemon,
      full,
      healthz,
      cpu,
      daemonExit,
      ...(profile ? { profile } : {}),
    };
  } finally {
    load.close();
    poll.close();
    await daemon.stop();
  }
}

function profiles(dir: string, daemon: DaemonProcess): LoadFigures['profile'] {
  const pid = daemon.child.pid ?? -1;
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const main = files.find((f) => f.split('.')[3] === String(pid));
  if (!main) return undefined;
  return {
    dir,
    daemon: summarizeProfile(join(dir, main), 25),
    hosts: files.filter((f) => f !== main).map((f) => summarizeProfile(join(dir, f), 10)),
  };
}

interface ReadyzAnswer {
  status: number | string;
  /** The `status` member of the JSON body. */
  body: string;
  ms: number;
}

interface StuckFigures {
  healthz: PollResult;
  readyz: ReadyzAnswer;
  readyzAfter: ReadyzAnswer;
  fired: number;
  /** Shim counters: signatures waiting for the touch when the window opened and closed. */
  waitingAtStart: number;
  waitingAtEnd: number;
  /** The held requests' answers, after the release. */
  outcomes: Readonly<Record<string, number>>;
  /** How long they waited (ms). */
  latency: LatencySummary;
  daemonExit: number | null;
}

async function stuckPhase(o: Options): Promise<StuckFigures> {
  progress('building the fault shim (test/fault-shim/build.sh)');
  const dir = await makeTempDir('stuck-');
  const shim = await buildFaultShim(dir);
  const control = new FaultControl(dir);
  const setup = await makeDaemonSetup({
    prefix: 'stuck-',
    dir,
    // a token that may wait for a touch: `generic` says so (touch.possible), `softhsm2` not
    profile: 'generic',
    sessions: 2,
    module: shim,
    moduleEnv: control.env,
    // longer than the window, so that the held requests are still waiting when it closes
    timeoutMs: 30_000,
  });
  const daemon = await startDaemonProcess(setup.config);
  progress(`notary-hsmd on the fault shim at ${daemon.url}`);
  const load = new LoadProcess();
  const poll = new LoadProcess();
  let released = false;
  try {
    const fire = (count: number) =>
      load.run({
        kind: 'fire',
        url: daemon.url,
        token: setup.clientToken,
        count,
        gunPrefix: `${BENCH_GUN_PREFIX}stuck`,
        role: BENCH_ROLE,
      });
    // one signature first: login and key lookup happen before the touch stops coming
    const first = await fire(1);
    if (first.outcomes['200'] !== 1) {
      throw new Error(
        `the daemon on the fault shim did not sign: ${JSON.stringify(first.outcomes)}`,
      );
    }
    control.set({ sign_delay_ms: -1 });
    progress(`stuck token: ${o.stuckRequests} sign requests held, window ${o.stuckSeconds} s`);
    const fired = fire(o.stuckRequests);
    settleLater(fired);
    let waitingAtStart = 0;
    for (let i = 0; i < 250 && waitingAtStart < Math.min(2, o.stuckRequests); i++) {
      await sleep(20);
      waitingAtStart = control.stats().sign_waiting ?? 0;
    }
    const windowStart = performance.now();
    const polling = poll.run({
      kind: 'poll',
      url: daemon.url,
      path: '/healthz',
      intervalMs: HEALTHZ_INTERVAL_MS,
    });
    settleLater(polling);
    const readyz = await getOnce(daemon.url, '/readyz', 15_000);
    const left = o.stuckSeconds * 1000 - (performance.now() - windowStart);
    if (left > 0) await sleep(left);
    poll.stopPolling();
    const healthz = await polling;
    const waitingAtEnd = control.stats().sign_waiting ?? 0;
    control.set({ sign_delay_ms: 0 });
    released = true;
    progress('touch released');
    const held = await fired;
    const readyzAfter = await getOnce(daemon.url, '/readyz', 15_000);
    const daemonExit = await daemon.stop();
    progress(`notary-hsmd on the fault shim stopped (exit ${String(daemonExit)})`);
    return {
      healthz,
      readyz,
      readyzAfter,
      fired: o.stuckRequests,
      waitingAtStart,
      waitingAtEnd,
      outcomes: held.outcomes,
      latency: held.latency,
      daemonExit,
    };
  } finally {
    // never leave a touch pending: the daemon could not drain its token on SIGTERM
    if (!released) control.set({ sign_delay_ms: 0 });
    load.close();
    poll.close();
    await daemon.stop();
  }
}

// ---------------------------------------------------------------------------------------
// Report

const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(v < 10 ? 2 : 1)} ms` : '–');
const rate = (v: number): string => `${Math.round(v).toLocaleString('en-US')}/s`;
const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
const lat = (l: LatencySummary): string => `${ms(l.p50)} / ${ms(l.p99)} / ${ms(l.max)}`;
const outcomesText = (o: Readonly<Record<string, number>>): string =>
  Object.entries(o)
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ') || 'none';
const listText = (o: Readonly<Record<string, number>>): string =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** µs of CPU per answered request, per process (and the server's total with its children). */
function cpuPerRequest(
  cpu: Record<string, number>,
  perSecond: number,
  server: string,
): Record<string, number> {
  const us = (pc: number): number => Math.round((pc / 100 / perSecond) * 1e6);
  const out: Record<string, number> = {};
  if (perSecond <= 0) return out;
  const main = cpu[`${server} main thread`];
  if (main !== undefined) out[`${server} main thread`] = us(main);
  const parts = [`${server} main thread`, `${server} other threads`, 'module host']
    .map((k) => cpu[k])
    .filter((v): v is number => v !== undefined);
  if (parts.length > 0) out[`${server} in all`] = us(parts.reduce((a, b) => a + b, 0));
  const gen = cpu['load generator'];
  if (gen !== undefined) out['load generator'] = us(gen);
  return out;
}

/** Prints the table (and the JSON line); true when every phase ran and no signing failed. */
function report(
  o: Options,
  L: LoadFigures,
  S: StuckFigures | { error: string },
  date: string,
): boolean {
  const ratio = L.full.perSecond / L.raw.sync.perSecond;
  const overhead = L.low.latency.p50 - L.rawPerOpMs;
  const errors = L.warmup.errors + L.low.errors + L.full.errors;
  const healthzOk = (p: PollResult): boolean =>
    p.latency.p99 <= TARGET_HEALTHZ_P99_MS && Object.keys(p.outcomes).every((k) => k === '200');
  const stuck = 'error' in S ? undefined : S;
  const stuckError = 'error' in S ? S.error : '';
  const met = {
    ratio: ratio >= TARGET_RATIO,
    errors: errors === 0,
    lowOverhead: overhead <= TARGET_OVERHEAD_MS,
    healthzFull: healthzOk(L.healthz),
    healthzStuck: stuck ? healthzOk(stuck.healthz) : false,
  };
  const cores = cpus().length;
  const model = cpus()[0]?.model.trim() ?? '?';
  const perSig = cpuPerRequest(L.cpu, L.full.perSecond, 'daemon');
  const rows: string[][] = [
    ['figure', 'measured', 'target', ''],
    [
      'raw pkcs11js C_Sign, 1 session, sync (reference)',
      rate(L.raw.sync.perSecond),
      `${(L.rawPerOpMs * 1000).toFixed(1)} µs/signature (${Math.round(L.raw.sync.cpuUsPerSig)} µs CPU)`,
      '',
    ],
    [
      '  raw C_SignAsync, 1 session / 2 sessions',
      `${rate(L.raw.async.perSecond)} / ${rate(L.raw.async2.perSecond)}`,
      '',
      '',
    ],
  ];
  if (L.ceiling) {
    rows.push([
      `bare node:http, canned answer, ${o.clients} clients (reference)`,
      `${rate(L.ceiling.full.perSecond)}, p50 ${ms(L.ceiling.full.latency.p50)}`,
      '',
      '',
    ]);
    const idle = L.ceiling.idlePoll.latency;
    rows.push([
      '  the same server idle, polled every 10 ms: p99 (p50, max)',
      `${ms(idle.p99)} (${ms(idle.p50)}, ${ms(idle.max)})`,
      '',
      '',
    ]);
  }
  rows.push(
    [
      `daemon sign/delegation, ${o.clients} keep-alive clients, ${o.seconds} s`,
      rate(L.full.perSecond),
      `≥ ${rate(L.raw.sync.perSecond * TARGET_RATIO)}`,
      '',
    ],
    [
      '  ratio to raw sync C_Sign',
      `${(ratio * 100).toFixed(1)} %`,
      `≥ ${TARGET_RATIO * 100} %`,
      verdict(met.ratio),
    ],
    ['  errors (warm-up, low and full load)', String(errors), '0', verdict(met.errors)],
    ['  latency p50 / p99 / max', lat(L.full.latency), '', ''],
    ['low load: 1 client, sequential', `${rate(L.low.perSecond)}, ${lat(L.low.latency)}`, '', ''],
    [
      '  p50 overhead over raw C_Sign',
      ms(overhead),
      `≤ ${TARGET_OVERHEAD_MS} ms`,
      verdict(met.lowOverhead),
    ],
    ['  of which inside the daemon (access log) p50', ms(L.lowInDaemon.p50), '', ''],
    [
      `/healthz p99 (p50, max) under full load, ${L.healthz.latency.count} polls`,
      `${ms(L.healthz.latency.p99)} (${ms(L.healthz.latency.p50)}, ${ms(L.healthz.latency.max)})`,
      `≤ ${TARGET_HEALTHZ_P99_MS} ms`,
      verdict(met.healthzFull),
    ],
  );
  if (stuck) {
    rows.push(
      [
        `/healthz p99 (p50, max) with a stuck token, ${stuck.healthz.latency.count} polls`,
        `${ms(stuck.healthz.latency.p99)} (${ms(stuck.healthz.latency.p50)}, ${ms(stuck.healthz.latency.max)})`,
        `≤ ${TARGET_HEALTHZ_P99_MS} ms`,
        verdict(met.healthzStuck),
      ],
      [
        '/readyz with a stuck token',
        `${stuck.readyz.status} ${stuck.readyz.body} after ${ms(stuck.readyz.ms)}`,
        'answers',
        '',
      ],
      [
        '/readyz after the release',
        `${stuck.readyzAfter.status} ${stuck.readyzAfter.body} after ${ms(stuck.readyzAfter.ms)}`,
        '',
        '',
      ],
      [
        `stuck sign requests (${stuck.fired}): waiting in the shim`,
        `${stuck.waitingAtStart} at start, ${stuck.waitingAtEnd} at end`,
        '',
        '',
      ],
      [
        '  their answers after the release',
        `${outcomesText(stuck.outcomes)}, after ${ms(stuck.latency.max)} at most`,
        '',
        '',
      ],
    );
  } else {
    rows.push(['/healthz with a stuck token', `not measured: ${stuckError}`, '', verdict(false)]);
  }
  console.log(`notary-hsmd bench — ${date}, ${cores} cores (${model}), node ${process.version}`);
  console.log(table(rows));
  console.log(
    `outcomes: warm-up ${outcomesText(L.warmup.outcomes)}; low ${outcomesText(L.low.outcomes)}; ` +
      `full ${outcomesText(L.full.outcomes)}`,
  );
  console.log(
    `/healthz outcomes: full load ${outcomesText(L.healthz.outcomes)}` +
      (stuck ? `; stuck ${outcomesText(stuck.healthz.outcomes)}` : ''),
  );
  console.log(`CPU during full load, % of one core: ${listText(L.cpu)}`);
  console.log(`CPU per signature under full load, µs: ${listText(perSig)}`);
  if (L.ceiling) {
    const c = L.ceiling;
    console.log(
      `CPU per request of the bare node:http reference, µs: ` +
        listText(cpuPerRequest(c.cpu, c.full.perSecond, 'bare server')),
    );
  }
  const disturbed = [L.cpu, L.ceiling?.cpu]
    .map((c) => c?.['not this bench'] ?? 0)
    .some((v) => v > 10);
  if (disturbed) {
    console.log(
      'WARNING: other processes used more than 10% of a core meanwhile; the figures were disturbed',
    );
  }
  console.log(
    `daemons exited with ${String(L.daemonExit)}` +
      (stuck ? ` and ${String(stuck.daemonExit)}` : '') +
      ' after SIGTERM',
  );
  if (L.profile) {
    const p = L.profile.daemon;
    const top = (entries: readonly ProfileSummary['top'][number][]) =>
      table(
        entries.map((e) => [`${e.percent.toFixed(1)} %`, `${e.selfMs.toFixed(0)} ms`, e.function]),
      );
    console.log(
      `\ndaemon main thread, whole run (${p.busyMs} ms busy, ${p.idleMs} ms idle), top by self time:`,
    );
    console.log(top(p.top));
    for (const h of L.profile.hosts) {
      console.log(`\n${h.file} (${h.busyMs} ms busy), top by self time:`);
      console.log(top(h.top));
    }
    console.log(`profiles kept in ${L.profile.dir}`);
  }
  if (o.json) {
    console.log(
      JSON.stringify({
        bench: 'daemon',
        date,
        cores,
        cpu: model,
        node: process.version,
        options: { ...o, cpuProf: undefined },
        raw: L.raw,
        rawPerOpMs: L.rawPerOpMs,
        ...(L.ceiling
          ? {
              bareHttp: {
                ...L.ceiling.full,
                cpuPerRequestUs: cpuPerRequest(
                  L.ceiling.cpu,
                  L.ceiling.full.perSecond,
                  'bare server',
                ),
              },
            }
          : {}),
        full: L.full,
        ratio,
        low: L.low,
        lowOverheadMs: overhead,
        lowInDaemon: L.lowInDaemon,
        warmup: { outcomes: L.warmup.outcomes, errors: L.warmup.errors },
        healthzFull: L.healthz,
        stuck: S,
        cpuFull: L.cpu,
        cpuPerSignatureUs: perSig,
        disturbed,
        targets: {
          ratio: TARGET_RATIO,
          lowOverheadMs: TARGET_OVERHEAD_MS,
          healthzP99Ms: TARGET_HEALTHZ_P99_MS,
          met,
        },
        ...(L.profile ? { profileTop: L.profile.daemon.top.slice(0, 15) } : {}),
      }),
    );
  }
  return stuck !== undefined && met.errors;
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const date = new Date().toISOString();
  const load = await loadPhases(o);
  let stuck: StuckFigures | { error: string };
  try {
    stuck = await stuckPhase(o);
  } catch (err) {
    progress(
      `stuck-token phase failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    stuck = { error: err instanceof Error ? err.message : String(err) };
  }
  // a figure missing its target is a result, not a failure; a failed signature or a phase
  // that did not run is
  return report(o, load, stuck, date) ? 0 : 1;
}

process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  killAllNow();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    progress(`${sig}: stopping what the bench started`);
    for (const c of children) release(c);
    void cleanUp(5000).finally(() => process.exit(130));
  });
}

main()
  .catch((err: unknown) => {
    process.stderr.write(
      `bench/daemon: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  })
  .then(async (code) => {
    for (const c of children) release(c);
    await cleanUp();
    process.exitCode = code;
  })
  .catch(() => {
    process.exitCode = 1;
  });
