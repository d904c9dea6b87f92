/**
 * notary-hsmd against its peer, Notary's own signing service (issue 10): notary-signer
 * (gRPC, mutual TLS with a test CA the bench makes, in-memory keys, a key created through
 * its KeyManagement API) and notary-hsmd (HTTP, one SoftHSM2 token, bench/daemon-setup's
 * configuration) under the same closed-loop load, 32 requests in flight, in one run:
 *
 *   peer-load.ts   — @grpc/grpc-js client of notary-signer, one process of its own
 *   daemon-load.ts — bench/daemon's HTTP load generator for notary-hsmd
 *
 * Per service and round: signatures/s, p50/p99 latency, CPU per signature of the service
 * and every process under it (/proc/PID/stat: the daemon with its module hosts) and of
 * the load generator; then the ratios. The daemon's CPU per signature is also shown minus
 * what no signing daemon can drop: the token's signature (raw pkcs11js C_Sign on the same
 * token, CPU per signature, bench/pkcs11-raw.ts) and its P-256 verification (measured
 * here with node:crypto). Rounds alternate which service goes first.
 *
 *   node dist/bench/bench/peer.js [--seconds 10] [--rounds 2] [--json] [--help]
 *
 * Everything started is stopped, every temp directory removed.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { LoadTask, SignResult } from './daemon-load';
import {
  BENCH_GUN_PREFIX,
  BENCH_ROLE,
  cleanUp,
  killAllNow,
  makeDaemonSetup,
  makeTempDir,
  startDaemonProcess,
} from './daemon-setup';
import { Forked } from './forked';
import type { LatencySummary } from './latency';
import type { PeerKey, PeerSignResult, PeerTask } from './peer-load';
import { startNotarySigner, type SignerProcess } from './peer-signer';
import { makePeerTls } from './peer-tls';
import type { RawResult, RawTask } from './pkcs11-raw';
import { cpuBetween, cpuSnapshot, type Watched } from './daemon-proc';
import { treeBetween, treeSnapshot } from './proc-tree';

interface Options {
  seconds: number;
  warmupSeconds: number;
  clients: number;
  rounds: number;
  rawSeconds: number;
  signHosts?: number;
  signerLog: string;
  json: boolean;
  cpuProf?: string;
}

const USAGE = `usage: node dist/bench/bench/peer.js [options]
  --seconds N      each measured burst (default 10)
  --warmup N       unmeasured burst before each (default 2)
  --clients N      requests in flight, closed loop (default 32)
  --rounds N       both services N times, alternating which goes first (default 2)
  --raw-seconds N  each raw pkcs11js loop on the daemon's token (default 2)
  --sign-hosts N   module host processes signing for notary-hsmd's token (default: the
                   softhsm2 profile's, 2)
  --signer-log L   notary-signer's log level (default info: one line per signature, as
                   notary-hsmd's access log; error: none)
  --cpu-prof DIR   run notary-hsmd (and its module hosts) under --cpu-prof into DIR
  --json           also print every figure as one JSON line (the last line of stdout)`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      clients: { type: 'string' },
      rounds: { type: 'string' },
      'raw-seconds': { type: 'string' },
      'sign-hosts': { type: 'string' },
      'signer-log': { type: 'string' },
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
  const signerLog = values['signer-log'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(signerLog)) {
    throw new Error('--signer-log must be debug, info, warn or error');
  }
  const cpuProf = values['cpu-prof'];
  return {
    seconds: num('seconds', values.seconds, 10, 1, 3600),
    warmupSeconds: num('warmup', values.warmup, 2, 0, 600),
    clients: Math.round(num('clients', values.clients, 32, 1, 1024)),
    rounds: Math.round(num('rounds', values.rounds, 2, 1, 20)),
    rawSeconds: num('raw-seconds', values['raw-seconds'], 2, 1, 600),
    ...(values['sign-hosts'] === undefined
      ? {}
      : { signHosts: Math.round(num('sign-hosts', values['sign-hosts'], 2, 1, 8)) }),
    signerLog,
    json: values.json === true,
    ...(cpuProf ? { cpuProf: isAbsolute(cpuProf) ? cpuProf : resolve(cpuProf) } : {}),
  };
}

function progress(text: string): void {
  process.stderr.write(`bench/peer: ${text}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One service's figures in one round. */
interface Burst {
  readonly service: 'notary-signer' | 'notary-hsmd';
  readonly round: number;
  readonly perSecond: number;
  readonly latency: LatencySummary;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly errors: number;
  /** % of one core over the measured window: the service tree, the load generator, the rest. */
  readonly cpu: Record<string, number>;
  /** µs of CPU per signature: the service and every process under it. */
  readonly serviceUsPerSig: number;
  readonly loadUsPerSig: number;
}

/** Runs `load` and samples the CPU of `roots` over its measured window. */
async function measured<R extends { perSecond: number }>(
  o: Options,
  roots: Record<string, number>,
  load: Promise<R>,
  parts?: Watched,
): Promise<{ result: R; cpu: Record<string, number> }> {
  load.catch(() => undefined);
  await sleep(o.warmupSeconds * 1000);
  const bench = { bench: process.pid };
  const a = treeSnapshot(roots, bench);
  const pa = parts ? cpuSnapshot(parts) : undefined;
  await sleep(o.seconds * 1000);
  const cpu = treeBetween(a, treeSnapshot(roots, bench));
  if (parts && pa) {
    // the service's own split: main thread, other threads, module hosts
    const split = cpuBetween(pa, cpuSnapshot(parts));
    for (const k of ['daemon main thread', 'daemon other threads', 'module host']) {
      const v = split[k];
      if (v !== undefined) cpu[k] = v;
    }
  }
  return { result: await load, cpu };
}

const perSig = (pc: number | undefined, rate: number): number =>
  pc === undefined || rate <= 0 ? NaN : (pc / 100 / rate) * 1e6;

/** µs of CPU per P-256 verification with node:crypto (what the daemon does per signature). */
function verifyCostUs(seconds: number): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const msg = Buffer.alloc(400, 7);
  const sig = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const key = { key: publicKey, dsaEncoding: 'ieee-p1363' as const };
  const c0 = process.cpuUsage();
  const until = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 100; i++) if (verify('sha256', msg, key, sig)) n++;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

/** The notary package's version (the Debian binary's own `-version` prints none). */
function signerVersion(): string {
  try {
    const v = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'notary'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return v === '' ? '?' : v.replace(/\+.*$/, '');
  } catch {
    return '?';
  }
}

interface Figures {
  bursts: Burst[];
  raw: RawResult;
  verifyUs: number;
  keyAlgorithm: string;
  daemonExit: number | null;
  signerExit: string;
}

async function run(o: Options): Promise<Figures> {
  progress('creating a SoftHSM2 token and the delegation key');
  const setup = await makeDaemonSetup({
    prefix: 'peer-',
    sessions: 2,
    ...(o.signHosts ? { signHosts: o.signHosts } : {}),
  });
  progress(`raw pkcs11js on that token (3 loops of ${o.rawSeconds} s)`);
  const rawProc = new Forked<RawTask, RawResult>('pkcs11-raw.js', {
    ...process.env,
    SOFTHSM2_CONF: setup.token.conf,
  });
  const raw = await rawProc.run({
    module: setup.module,
    tokenLabel: setup.token.label,
    keyLabel: setup.keyLabel,
    pin: setup.token.pin,
    seconds: o.rawSeconds,
    warmupSeconds: 1,
  });
  rawProc.close();
  progress('P-256 verification cost (node:crypto), 2 s');
  const verifyUs = verifyCostUs(2);

  progress('test CA and notary-signer');
  const peerDir = await makeTempDir('peer-signer-');
  const tls = await makePeerTls(peerDir);
  let signerProc: SignerProcess | undefined;
  const peerLoad = new Forked<PeerTask, unknown>('peer-load.js');
  const daemonLoad = new Forked<LoadTask, SignResult>('daemon-load.js');
  if (o.cpuProf) mkdirSync(o.cpuProf, { recursive: true });
  const daemon = await startDaemonProcess(setup.config, o.cpuProf ? { cpuProfDir: o.cpuProf } : {});
  try {
    signerProc = await startNotarySigner(peerDir, tls, { logLevel: o.signerLog });
    progress(`notary-signer on ${signerProc.addr}, notary-hsmd at ${daemon.url}`);
    await peerLoad.run({
      kind: 'connect',
      addr: signerProc.addr,
      caCert: tls.caCert,
      clientCert: tls.clientCert,
      clientKey: tls.clientKey,
    });
    const key = (await peerLoad.run({
      kind: 'key',
      gun: 'localhost:5000/bench/peer',
      role: 'targets',
    })) as PeerKey;
    progress(`notary-signer key ${key.keyId.slice(0, 12)}… (${key.algorithm})`);

    const bursts: Burst[] = [];
    const signerPid = signerProc.child.pid ?? -1;
    const daemonPid = daemon.child.pid ?? -1;
    const peer = async (round: number): Promise<void> => {
      progress(`round ${round}: notary-signer, ${o.clients} in flight`);
      const { result, cpu } = await measured(
        o,
        { service: signerPid, load: peerLoad.pid },
        peerLoad.run({
          kind: 'sign',
          keyId: key.keyId,
          clients: o.clients,
          gunPrefix: `${BENCH_GUN_PREFIX}peer`,
          warmupSeconds: o.warmupSeconds,
          seconds: o.seconds,
        }) as Promise<PeerSignResult>,
      );
      bursts.push(burst('notary-signer', round, result, cpu));
    };
    const hsmd = async (round: number): Promise<void> => {
      progress(`round ${round}: notary-hsmd, ${o.clients} in flight`);
      const { result, cpu } = await measured(
        o,
        { service: daemonPid, load: daemonLoad.pid },
        daemonLoad.run({
          kind: 'sign',
          url: daemon.url,
          token: setup.clientToken,
          clients: o.clients,
          gunPrefix: BENCH_GUN_PREFIX,
          role: BENCH_ROLE,
          warmupSeconds: o.warmupSeconds,
          seconds: o.seconds,
        }),
        { server: daemonPid, serverLabel: 'daemon', others: {} },
      );
      bursts.push(burst('notary-hsmd', round, result, cpu));
    };
    for (let r = 1; r <= o.rounds; r++) {
      if (r % 2 === 1) {
        await hsmd(r);
        await peer(r);
      } else {
        await peer(r);
        await hsmd(r);
      }
    }
    const daemonExit = await daemon.stop();
    const signerExit = await signerProc.stop();
    return { bursts, raw, verifyUs, keyAlgorithm: key.algorithm, daemonExit, signerExit };
  } finally {
    peerLoad.close();
    daemonLoad.close();
    await daemon.stop();
    await signerProc?.stop();
  }
}

function burst(
  service: Burst['service'],
  round: number,
  r: SignResult | PeerSignResult,
  cpu: Record<string, number>,
): Burst {
  return {
    service,
    round,
    perSecond: r.perSecond,
    latency: r.latency,
    outcomes: r.outcomes,
    errors: r.errors,
    cpu,
    serviceUsPerSig: perSig(cpu.service, r.perSecond),
    loadUsPerSig: perSig(cpu.load, r.perSecond),
  };
}

// ---------------------------------------------------------------------------------------
// Report

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

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

const f0 = (v: number): string =>
  Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–';
const f2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '–');
const outcomesText = (o: Readonly<Record<string, number>>): string =>
  Object.entries(o)
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ') || 'none';

interface Summary {
  perSecond: number;
  p50: number;
  p99: number;
  serviceUsPerSig: number;
  loadUsPerSig: number;
  serviceCpu: number;
  others: number;
  errors: number;
}

function summarizeService(bursts: readonly Burst[]): Summary {
  return {
    perSecond: median(bursts.map((b) => b.perSecond)),
    p50: median(bursts.map((b) => b.latency.p50)),
    p99: median(bursts.map((b) => b.latency.p99)),
    serviceUsPerSig: median(bursts.map((b) => b.serviceUsPerSig)),
    loadUsPerSig: median(bursts.map((b) => b.loadUsPerSig)),
    serviceCpu: median(bursts.map((b) => b.cpu.service ?? NaN)),
    others: Math.max(...bursts.map((b) => b.cpu.others ?? 0)),
    errors: bursts.reduce((n, b) => n + b.errors, 0),
  };
}

function report(o: Options, F: Figures, date: string, version: string): boolean {
  const signer = summarizeService(F.bursts.filter((b) => b.service === 'notary-signer'));
  const hsmd = summarizeService(F.bursts.filter((b) => b.service === 'notary-hsmd'));
  const tokenUs = F.raw.sync.cpuUsPerSig;
  const restUs = hsmd.serviceUsPerSig - tokenUs - F.verifyUs;
  const cores = cpus().length;
  const model = cpus()[0]?.model.trim() ?? '?';
  console.log(
    `notary-hsmd against notary-signer ${version} — ${date}, ${cores} cores (${model}), ` +
      `node ${process.version}; ${o.clients} in flight, ${o.rounds} × ${o.seconds} s each, medians`,
  );
  const row = (name: string, s: Summary): string[] => [
    name,
    f0(s.perSecond),
    `${f2(s.p50)} / ${f2(s.p99)}`,
    f0(s.serviceUsPerSig),
    `${s.serviceCpu.toFixed(0)} %`,
    f0(s.loadUsPerSig),
    `${s.others.toFixed(0)} %`,
    String(s.errors),
  ];
  console.log(
    table([
      [
        'service',
        'signatures/s',
        'p50 / p99 ms',
        'CPU µs/sig (all its processes)',
        'its CPU',
        'load gen µs/sig',
        'others (max)',
        'errors',
      ],
      row(`notary-signer ${version} (gRPC, mTLS, Go, in-memory key)`, signer),
      row(`notary-hsmd (HTTP, SoftHSM2, sign hosts: ${o.signHosts ?? "the profile's"})`, hsmd),
    ]),
  );
  console.log(
    `ratio notary-hsmd / notary-signer: rate ${f2(hsmd.perSecond / signer.perSecond)}×` +
      ` (goal ≥ 1.00), p50 ${f2(hsmd.p50 / signer.p50)}×, p99 ${f2(hsmd.p99 / signer.p99)}×,` +
      ` CPU per signature ${f2(hsmd.serviceUsPerSig / signer.serviceUsPerSig)}×`,
  );
  const hb = F.bursts.filter((b) => b.service === 'notary-hsmd');
  const partUs = (k: string): number => median(hb.map((b) => perSig(b.cpu[k], b.perSecond)));
  console.log(
    `notary-hsmd CPU per signature by process: main thread ${f0(partUs('daemon main thread'))} µs, ` +
      `other threads ${f0(partUs('daemon other threads'))} µs, module hosts ${f0(partUs('module host'))} µs`,
  );
  console.log(
    `notary-hsmd CPU per signature ${f0(hsmd.serviceUsPerSig)} µs − token C_Sign ` +
      `${f0(tokenUs)} µs (raw pkcs11js, ${f0(F.raw.sync.perSecond)}/s) − P-256 verification ` +
      `${f0(F.verifyUs)} µs = ${f0(restUs)} µs (goal ≤ 150)`,
  );
  for (const b of F.bursts) {
    console.log(
      `  round ${b.round} ${b.service}: ${f0(b.perSecond)}/s, p50 ${f2(b.latency.p50)} ms, ` +
        `p99 ${f2(b.latency.p99)} ms, ${f0(b.serviceUsPerSig)} µs/sig; CPU % ` +
        Object.entries(b.cpu)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') +
        `; ${outcomesText(b.outcomes)}`,
    );
  }
  const disturbed = F.bursts.some((b) => (b.cpu.others ?? 0) > 10);
  if (disturbed) {
    console.log(
      'WARNING: other processes used more than 10% of a core meanwhile; the figures were disturbed',
    );
  }
  console.log(
    `notary-hsmd exited with ${String(F.daemonExit)}, notary-signer with ${F.signerExit}`,
  );
  if (o.json) {
    console.log(
      JSON.stringify({
        bench: 'peer',
        date,
        cores,
        cpu: model,
        node: process.version,
        signerVersion: version,
        options: { ...o, cpuProf: undefined },
        notarySigner: signer,
        notaryHsmd: hsmd,
        ratio: {
          rate: hsmd.perSecond / signer.perSecond,
          p50: hsmd.p50 / signer.p50,
          p99: hsmd.p99 / signer.p99,
          cpuPerSignature: hsmd.serviceUsPerSig / signer.serviceUsPerSig,
        },
        tokenSignUs: tokenUs,
        verifyUs: F.verifyUs,
        daemonRestUs: restUs,
        raw: F.raw,
        bursts: F.bursts,
        disturbed,
      }),
    );
  }
  return signer.errors === 0 && hsmd.errors === 0;
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const date = new Date().toISOString();
  const version = signerVersion();
  const figures = await run(o);
  // a slow figure is a result; a failed signature is a failure
  return report(o, figures, date, version) ? 0 : 1;
}

process.on('exit', () => killAllNow());
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    progress(`${sig}: stopping what the bench started`);
    void cleanUp(5000).finally(() => process.exit(130));
  });
}

main()
  .catch((err: unknown) => {
    process.stderr.write(
      `bench/peer: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  })
  .then(async (code) => {
    await cleanUp();
    process.exitCode = code;
  })
  .catch(() => {
    process.exitCode = 1;
  });
