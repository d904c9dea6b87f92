/**
 * bench/pkcs11: how fast the PKCS#11 bridge signs, next to raw pkcs11js, in one run.
 * Measured, not asserted: it prints figures with the issue's targets beside them, and
 * fails (exit 1) only when a signature fails; it never fails on a slow figure.
 *
 *   make bench                          # build, compile bench/, run with the defaults
 *   node dist/bench/bench/pkcs11.js --seconds 5 --concurrency 64 --rounds 3 --json
 *
 * Options (defaults in brackets):
 *   --seconds N       length of each measured burst [5]
 *   --warmup N        unmeasured burst before each one [1]
 *   --concurrency C   owner.sign() calls kept outstanding on the one TokenOwner [64]
 *   --kinds LIST      module host kinds: process,worker [both]
 *   --sessions LIST   sessions per token to try, e.g. 1,2,4 [1,2]
 *   --pipeline LIST   TokenOwner `pipeline` values to try with each (operations sent to the
 *                     host at once; below `sessions` means `sessions`) [1,32]
 *   --sign LIST       how the host signs: async (C_SignAsync on libuv's pool, the default
 *                     for tokens that may wait for a touch), sync (C_Sign, TokenOwner
 *                     `syncSign`) [async,sync]
 *   --hosts LIST      module host processes signing for the token at once (TokenOwner
 *                     `signHosts`; process hosts with sync signing only) [1,2]
 *   --rounds R        run everything R times (interleaved) and report medians [1]
 *   --no-signer       skip the Pkcs11Signer row (SHA-256 and verification included)
 *   --json            print one JSON line with every figure after the table
 *
 * It creates a SoftHSM2 token in a private temp directory, generates a P-256 key through
 * the bridge, then runs each phase one after the other, each in a process (or worker) of
 * its own that is closed before the next one starts, so one process at a time has the
 * token directory open. The PIN is random for each run and never printed.
 */
import { fork } from 'node:child_process';
import { createHash, createPublicKey, randomInt, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import {
  ModuleHost,
  Pkcs11Signer,
  TokenOwner,
  pinSource,
  type HostKind,
  type KeyRef,
} from '../src/pkcs11';
import { createSoftHsmToken, SOFTHSM_MODULE, type SoftHsmToken } from '../test/helpers/softhsm';
import { cpuSnapshot, cpuUse, type CpuUse } from './cpu';
import type { RawFigure, RawResult, RawTask } from './pkcs11-raw';

interface Options {
  seconds: number;
  warmup: number;
  concurrency: number;
  kinds: HostKind[];
  sessions: number[];
  pipelines: number[];
  signModes: SignMode[];
  hosts: number[];
  rounds: number;
  signer: boolean;
  json: boolean;
}

const USAGE =
  'usage: pkcs11 [--seconds N] [--warmup N] [--concurrency C] [--kinds process,worker] ' +
  '[--sessions 1,2] [--pipeline 1,32] [--sign async,sync] [--hosts 1,2] [--rounds R] ' +
  '[--no-signer] [--json]';

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    seconds: 5,
    warmup: 1,
    concurrency: 64,
    kinds: ['process', 'worker'],
    sessions: [1, 2],
    pipelines: [1, 32],
    signModes: ['async', 'sync'],
    hosts: [1, 2],
    rounds: 1,
    signer: true,
    json: false,
  };
  const num = (v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min) throw new Error(USAGE);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    switch (a) {
      case '--seconds':
        o.seconds = num(v, 0.1);
        i++;
        break;
      case '--warmup':
        o.warmup = num(v, 0);
        i++;
        break;
      case '--concurrency':
        o.concurrency = Math.floor(num(v, 1));
        i++;
        break;
      case '--rounds':
        o.rounds = Math.floor(num(v, 1));
        i++;
        break;
      case '--kinds':
        o.kinds = (v ?? '').split(',').map((k) => {
          if (k !== 'process' && k !== 'worker') throw new Error(USAGE);
          return k;
        });
        i++;
        break;
      case '--sessions':
        o.sessions = (v ?? '').split(',').map((x) => Math.floor(num(x, 1)));
        i++;
        break;
      case '--pipeline':
        o.pipelines = (v ?? '').split(',').map((x) => Math.floor(num(x, 1)));
        i++;
        break;
      case '--sign':
        o.signModes = (v ?? '').split(',').map((m) => {
          if (m !== 'async' && m !== 'sync') throw new Error(USAGE);
          return m;
        });
        i++;
        break;
      case '--hosts':
        o.hosts = (v ?? '').split(',').map((x) => Math.floor(num(x, 1)));
        i++;
        break;
      case '--no-signer':
        o.signer = false;
        break;
      case '--json':
        o.json = true;
        break;
      default:
        throw new Error(USAGE);
    }
  }
  return o;
}

/** Main event-loop delay, ms: the excess of each 1 ms tick of monitorEventLoopDelay. */
interface Delay {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

type Path = 'owner.sign' | 'Pkcs11Signer.sign';
type SignMode = 'async' | 'sync';

/** One bridge configuration: the host kind and the TokenOwner's options. */
interface Config {
  readonly kind: HostKind;
  readonly sessions: number;
  readonly pipeline: number;
  readonly sign: SignMode;
  /** Module host processes signing at once (1 + TokenOwner `signHosts`). */
  readonly hosts: number;
}

interface BridgeFigure extends Config {
  readonly name: string;
  readonly path: Path;
  readonly ops: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** perSecond over the raw sync rate of the same round. */
  readonly ratio: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly eventLoopDelayMs: Delay;
  /**
   * % of one core: the main thread, the module host (child process or worker), and every
   * other process of the machine (a figure taken while `others` is high was disturbed).
   */
  readonly cpu: { readonly main?: number; readonly host?: number; readonly others?: number };
  /** CPU time per signature, µs: the main thread, and the module host. */
  readonly cpuUsPerSig: { readonly main?: number; readonly host?: number };
}

const TOKEN_LABEL = 'bench';
const KEY: KeyRef = { label: 'bench-p256' };
const KEY_ID = 'b1';
const MESSAGE = Buffer.from('bench message');
const DIGEST = createHash('sha256').update(MESSAGE).digest();

interface Bench {
  readonly opts: Options;
  readonly token: SoftHsmToken;
  readonly pin: string;
}

function ownerOn(b: Bench, host: ModuleHost, c?: Config, signHosts?: ModuleHost[]): TokenOwner {
  return new TokenOwner({
    name: 'bench',
    host,
    ...(signHosts ? { signHosts } : {}),
    selector: { label: TOKEN_LABEL },
    pin: pinSource('env:BENCH_PIN', { BENCH_PIN: b.pin }),
    sessions: c?.sessions ?? 1,
    pipeline: c?.pipeline ?? 1,
    syncSign: c?.sign === 'sync',
    queueLimit: Math.max(256, b.opts.concurrency),
  });
}

const nameOf = (c: Config, path: Path): string =>
  `${c.kind} host${c.hosts > 1 ? ` ×${c.hosts}` : ''}, sessions=${c.sessions}, ` +
  `pipeline=${c.pipeline}, ${c.sign}` +
  (path === 'owner.sign' ? '' : ', Pkcs11Signer');

function runRaw(b: Bench): Promise<RawResult> {
  const task: RawTask = {
    module: b.token.module,
    tokenLabel: TOKEN_LABEL,
    keyLabel: KEY.label ?? '',
    pin: b.pin,
    seconds: b.opts.seconds,
    warmupSeconds: b.opts.warmup,
  };
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'pkcs11-raw.js'), [], {
      env: b.token.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let answered = false;
    child.once('message', (m: { ok: true; result: RawResult } | { ok: false; error: string }) => {
      answered = true;
      if (m.ok) resolve(m.result);
      else reject(new Error(`raw pkcs11js failed: ${m.error}`));
    });
    child.once('exit', (code) => {
      if (!answered) reject(new Error(`the raw pkcs11js process exited (${code ?? 'signal'})`));
    });
    child.send(task);
  });
}

interface Burst {
  ops: number;
  errors: number;
  ms: number;
  firstError?: string;
}

/**
 * Keeps `concurrency` calls of `op` outstanding for `seconds`, then waits for the last
 * ones. Counts completions and errors; the time runs up to the last completion.
 */
function burst(op: () => Promise<unknown>, concurrency: number, seconds: number): Promise<Burst> {
  return new Promise((resolve) => {
    const start = performance.now();
    const end = start + seconds * 1000;
    const r: Burst = { ops: 0, errors: 0, ms: 0 };
    let active = 0;
    const done = (): void => {
      active--;
      if (performance.now() < end) launch();
      else if (active === 0) {
        r.ms = performance.now() - start;
        resolve(r);
      }
    };
    const ok = (): void => {
      r.ops++;
      done();
    };
    const fail = (err: unknown): void => {
      r.errors++;
      r.firstError ??=
        err instanceof Error ? `${(err as { code?: string }).code}: ${err.message}` : String(err);
      done();
    };
    const launch = (): void => {
      active++;
      op().then(ok, fail);
    };
    for (let i = 0; i < concurrency; i++) launch();
  });
}

function delayOf(h: ReturnType<typeof monitorEventLoopDelay>): Delay {
  // The histogram holds the time between 1 ms timer ticks (ns); the delay is the excess.
  const ms = (ns: number): number => Math.max(0, ns / 1e6 - 1);
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
}

/** µs of CPU per signature from a % of one core and a rate. */
const usPerSig = (percent: number, perSecond: number): number =>
  (percent / 100) * (1e6 / perSecond);

function hostCpu(kind: HostKind, use: CpuUse): BridgeFigure['cpu'] {
  const host = kind === 'process' ? use.children : use.otherThreads;
  return {
    ...(use.mainThread === undefined ? {} : { main: use.mainThread }),
    ...(host === undefined ? {} : { host }),
    ...(use.others === undefined ? {} : { others: use.others }),
  };
}

async function runBridge(
  b: Bench,
  c: Config,
  path: Path,
  reference: number,
  spki: Uint8Array,
): Promise<BridgeFigure> {
  const host = new ModuleHost({ module: b.token.module, kind: c.kind, env: b.token.env });
  const signHosts = Array.from(
    { length: c.hosts - 1 },
    () => new ModuleHost({ module: b.token.module, kind: c.kind, env: b.token.env }),
  );
  try {
    const owner = ownerOn(b, host, c, signHosts);
    let op: () => Promise<unknown>;
    if (path === 'owner.sign') {
      // CKM_ECDSA over sha256(MESSAGE) verifies as ECDSA-SHA256 over MESSAGE
      const sig = await owner.sign(KEY, DIGEST);
      const pub = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
      if (!verify('sha256', MESSAGE, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)) {
        throw new Error('the bridge returned a signature that does not verify');
      }
      op = () => owner.sign(KEY, DIGEST);
    } else {
      const signer = await Pkcs11Signer.open(owner, KEY);
      op = () => signer.sign(MESSAGE);
    }
    if (b.opts.warmup > 0) await burst(op, b.opts.concurrency, b.opts.warmup);
    const h = monitorEventLoopDelay({ resolution: 1 });
    const before = cpuSnapshot();
    h.enable();
    const r = await burst(op, b.opts.concurrency, b.opts.seconds);
    h.disable();
    const use = cpuUse(before, cpuSnapshot());
    const perSecond = r.ops / (r.ms / 1000);
    const cpu = hostCpu(c.kind, use);
    return {
      ...c,
      name: nameOf(c, path),
      path,
      ops: r.ops,
      seconds: r.ms / 1000,
      perSecond,
      ratio: perSecond / reference,
      errors: r.errors,
      ...(r.firstError === undefined ? {} : { firstError: r.firstError }),
      eventLoopDelayMs: delayOf(h),
      cpu,
      cpuUsPerSig: {
        ...(cpu.main === undefined ? {} : { main: usPerSig(cpu.main, perSecond) }),
        ...(cpu.host === undefined ? {} : { host: usPerSig(cpu.host, perSecond) }),
      },
    };
  } finally {
    await Promise.all([host, ...signHosts].map((h) => h.close()));
  }
}

async function makeKey(b: Bench): Promise<Uint8Array> {
  const host = new ModuleHost({ module: b.token.module, env: b.token.env });
  try {
    const report = await ownerOn(b, host).generateKey(KEY.label ?? '', KEY_ID);
    return report.spki;
  } finally {
    await host.close();
  }
}

interface Round {
  readonly raw: RawResult;
  readonly bridge: BridgeFigure[];
  readonly signer?: BridgeFigure;
}

/** Every configuration the options ask for, in the order they run. */
function configs(o: Options): Config[] {
  const out: Config[] = [];
  for (const kind of o.kinds)
    for (const sign of o.signModes)
      for (const sessions of o.sessions)
        for (const pipeline of new Set(o.pipelines.map((p) => Math.max(p, sessions))))
          for (const hosts of kind === 'process' && sign === 'sync' ? new Set(o.hosts) : [1])
            out.push({ kind, sessions, pipeline, sign, hosts });
  return out;
}

async function runRound(b: Bench, spki: Uint8Array, n: number): Promise<Round> {
  const log = (s: string): void => void process.stderr.write(`[round ${n}] ${s}\n`);
  log('raw pkcs11js: sync, C_SignAsync, C_SignAsync on 2 sessions');
  const raw = await runRaw(b);
  const reference = raw.sync.perSecond;
  const bridge: BridgeFigure[] = [];
  for (const c of configs(b.opts)) {
    log(`bridge: ${nameOf(c, 'owner.sign')}`);
    bridge.push(await runBridge(b, c, 'owner.sign', reference, spki));
  }
  if (!b.opts.signer) return { raw, bridge };
  // The signer path on one configuration: with the defaults, the recommended one (process
  // host, 1 session, pipeline 32, sync C_Sign).
  const o = b.opts;
  const sessions = o.sessions[0] ?? 1;
  const kind = o.kinds[0] ?? 'process';
  const sign = o.signModes[o.signModes.length - 1] ?? 'async';
  const c: Config = {
    kind,
    sessions,
    pipeline: Math.max(sessions, ...o.pipelines),
    sign,
    hosts: kind === 'process' && sign === 'sync' ? Math.max(...o.hosts) : 1,
  };
  log(`bridge: ${nameOf(c, 'Pkcs11Signer.sign')}`);
  const signer = await runBridge(b, c, 'Pkcs11Signer.sign', reference, spki);
  return { raw, bridge, signer };
}

/** The element with the median `key` (the lower one of an even count). */
function medianBy<T>(items: readonly T[], key: (t: T) => number): T {
  const sorted = [...items].sort((x, y) => key(x) - key(y));
  const m = sorted[Math.floor((sorted.length - 1) / 2)];
  if (m === undefined) throw new Error('no figures');
  return m;
}

const f0 = (n: number): string => Math.round(n).toLocaleString('en-US');
const f1 = (n: number | undefined): string => (n === undefined ? '' : n.toFixed(1));
const f2 = (n: number | undefined): string => (n === undefined ? '' : n.toFixed(2));
const pc = (n: number | undefined): string => (n === undefined ? '' : `${n.toFixed(0)}%`);
const ratio = (n: number): string => `${(n * 100).toFixed(1)}%`;

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r, i) => {
      const line = r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join('  ');
      return i === 0 ? `${line}\n${'-'.repeat(line.length)}` : line;
    })
    .join('\n');
}

function report(opts: Options, rounds: readonly Round[]): void {
  const raws = rounds.map((r) => r.raw);
  const rawRow = (label: string, pick: (r: RawResult) => RawFigure): string[] => {
    const fig = medianBy(raws, (r) => pick(r).perSecond);
    const rel = medianBy(raws, (r) => pick(r).perSecond / r.sync.perSecond);
    const others = pick(fig).othersCpu;
    return [
      label,
      f0(pick(fig).perSecond),
      ratio(pick(rel).perSecond / rel.sync.perSecond),
      ...['', '', '', '', ''],
      f1(pick(fig).cpuUsPerSig),
      pc(others),
      '',
    ];
  };
  const rows: string[][] = [
    [
      'configuration',
      'sign/s',
      'vs raw',
      'loop p50',
      'p99',
      'max',
      'main CPU',
      'host CPU',
      'µs/sig',
      'others',
      'errors',
    ],
    rawRow('raw pkcs11js, 1 session, sync C_Sign (REFERENCE)', (r) => r.sync),
    rawRow('raw pkcs11js, 1 session, C_SignAsync', (r) => r.async),
    rawRow('raw pkcs11js, 2 sessions, C_SignAsync', (r) => r.async2),
  ];
  const names = [...(rounds[0]?.bridge ?? []), ...(rounds[0]?.signer ? [rounds[0].signer] : [])];
  for (const { name } of names) {
    const figs = rounds.flatMap((r) => [...r.bridge, ...(r.signer ? [r.signer] : [])]);
    const mine = figs.filter((f) => f.name === name);
    const f = medianBy(mine, (x) => x.ratio);
    rows.push([
      `bridge: ${name}`,
      f0(f.perSecond),
      ratio(f.ratio),
      f2(f.eventLoopDelayMs.p50),
      f2(f.eventLoopDelayMs.p99),
      f2(f.eventLoopDelayMs.max),
      pc(f.cpu.main),
      pc(f.cpu.host),
      f1(f.cpuUsPerSig.host),
      pc(f.cpu.others),
      String(mine.reduce((n, x) => n + x.errors, 0)),
    ]);
  }
  console.log(table(rows));
  console.log(
    [
      '',
      `${opts.rounds > 1 ? `median of ${opts.rounds} rounds; ` : ''}${opts.seconds} s bursts, ` +
        `${opts.concurrency} owner.sign() calls outstanding on one TokenOwner; ` +
        `${cpus().length} CPUs, Node ${process.version}.`,
      '"vs raw": against the raw sync rate of the same round. "loop": delay of the main',
      'event loop in ms, from monitorEventLoopDelay({ resolution: 1 }) minus the 1 ms tick.',
      'CPU: % of one core, main thread and module host (child process, or the worker and',
      "libuv's pool for a worker host); µs/sig: CPU time of the host (of the raw process for",
      'raw rows) per signature; others: the rest of the machine meanwhile (a figure taken',
      'while others is more than a few % was disturbed by another program).',
      'targets (the issue): bridge >= 90% of the raw sync rate; p99 loop delay <= 5 ms; 0 errors.',
    ].join('\n'),
  );
  for (const r of rounds)
    for (const f of [...r.bridge, ...(r.signer ? [r.signer] : [])])
      if (f.firstError) console.log(`${f.name}: ${f.errors} errors, first: ${f.firstError}`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'notary-hsm-bench-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const pin = String(randomInt(10_000_000, 100_000_000));
  const soPin = String(randomInt(10_000_000, 100_000_000));
  const token = await createSoftHsmToken({ label: TOKEN_LABEL, pin, soPin, dir });
  // A worker host shares this process's C environment: SoftHSM2 reads SOFTHSM2_CONF with
  // getenv(), which never sees a Worker's `env` option, so it must be set here as well.
  process.env.SOFTHSM2_CONF = token.conf;
  const b: Bench = { opts, token, pin };
  const spki = await makeKey(b);
  process.stderr.write(
    `bench/pkcs11: ${SOFTHSM_MODULE}, ${opts.rounds} round(s) of ${opts.seconds} s bursts\n`,
  );
  const rounds: Round[] = [];
  for (let n = 1; n <= opts.rounds; n++) rounds.push(await runRound(b, spki, n));
  report(opts, rounds);
  if (opts.json) {
    console.log(
      JSON.stringify({
        bench: 'pkcs11',
        date: new Date().toISOString(),
        node: process.version,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? '',
        module: SOFTHSM_MODULE,
        seconds: opts.seconds,
        concurrency: opts.concurrency,
        rounds,
      }),
    );
  }
  const errors = rounds
    .flatMap((r) => [...r.bridge, ...(r.signer ? [r.signer] : [])])
    .reduce((n, f) => n + f.errors, 0);
  if (errors > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`bench/pkcs11 failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
