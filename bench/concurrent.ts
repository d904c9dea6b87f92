/**
 * Concurrent signers (the update loop, src/client/update-loop.ts): how long N CI agents
 * that sign into one repository at the same moment take until every one of their tags has
 * landed, against the same N signatures made one after another, in one run on one machine.
 *
 * Real components only: a notary-server on 127.0.0.1 (configured as the integration tests'
 * test/helpers/notary-server.ts configures it; see startNotaryServer below for why not
 * through that helper), the built bin/notary-hsmd on a SoftHSM2 token
 * (bench/daemon-setup.ts, with root, targets and a second delegation key added to its
 * configuration), and either `updateTargets` in this
 * process (each agent its own DaemonClient and NotaryServerClient) or whole
 * `bin/notary-hsm sign` processes. Every measured batch signs into a fresh GUN created
 * with `initRepository` (not timed), so versions start low; at its end the repository is
 * read back and verified, and every tag must be listed with its digest, or the run fails.
 *
 * For each N (--n, default 4,16,64) and each round (--rounds, default 3):
 *  - in-process, sequential: N `updateTargets` calls, each awaited before the next
 *    (targets/ci);
 *  - in-process, concurrent: N calls started in the same tick into targets/ci;
 *  - in-process, concurrent over 2 delegations: half into targets/ci, half into
 *    targets/qa (two clients, two keys);
 *  - for N in --process-n (default 4,16): N `notary-hsm sign … --role targets/ci`
 *    processes one after another, and N started together.
 * How often each agent had to try again comes from the daemon's audit log (every sign
 * request for the GUN is a `signed` or `refused` record) and, in process, from counting
 * each agent's sign requests, reads and publishes; CPU per process from /proc
 * (bench/daemon-proc.ts).
 *
 *   node dist/bench/bench/concurrent.js [--n 4,16,64] [--process-n 4,16] [--rounds 3]
 *                                       [--server-delay MS] [--json] [--help]
 *
 * Measured, not asserted: the exit status is 1 only when a tag did not land (an agent
 * failed, or the repository does not list it) or the bench could not run.
 *
 * Secrets: the client tokens are throwaway values; the CLI processes read theirs from a
 * 0600 file in the bench's private temp directory (--token-file). None is printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { cpuBetween, cpuSnapshot, type Watched } from './daemon-proc';
import { killServersNow, startNotaryServer, stopServers, type NotaryServer } from './notary-server';
import {
  BENCH_GUNS,
  ROOT,
  addAdminKeys,
  cleanUp,
  killAllNow,
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
} from './daemon-setup';
import { DaemonClient } from '../src/client/daemon-client';
import { listTargets } from '../src/client/list';
import { initRepository } from '../src/client/publish';
import { readRepository } from '../src/client/reader';
import { daemonSigning, type MetadataSigning } from '../src/client/signing';
import { updateTargets } from '../src/client/targets-update';
import { DEFAULT_RETRIES } from '../src/client/update-loop';
import type { TrustServer } from '../src/client/trust-server';
import { isNotaryHsmError } from '../src/errors';
import { FileMeta } from '../src/metadata/file-meta';
import { TufKey } from '../src/metadata/keys';
import type { RoleModel } from '../src/metadata/signed';
import { NotaryServerClient } from '../src/notary';
import { hashToken, newClientToken } from '../src/policy/clients';
import { AUDIT_LOG_FILE, readAudit } from '../src/store';

const CLI = join(ROOT, 'bin', 'notary-hsm');
const ROLES = ['targets/ci', 'targets/qa'] as const;
type Role = (typeof ROLES)[number];

interface Options {
  ns: number[];
  processNs: number[];
  rounds: number;
  /** Added before every request of an in-process agent to notary-server (ms). */
  serverDelayMs: number;
  json: boolean;
}

const USAGE = `usage: node dist/bench/bench/concurrent.js [options]
  --n LIST          signers per batch, in process (default 4,16,64)
  --process-n LIST  signers per batch as notary-hsm sign processes (default 4,16; none: skip)
  --rounds R        every batch R times, interleaved (default 3); the table shows min/median/max
  --server-delay MS in-process agents wait MS before each request to notary-server, as with a
                    server farther away than loopback (default 0)
  --json            also print every figure as one JSON line (the last line of stdout)`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string' },
      'process-n': { type: 'string' },
      rounds: { type: 'string' },
      'server-delay': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const list = (name: string, v: string | undefined, dflt: number[]): number[] => {
    if (v === undefined) return dflt;
    if (v.trim() === 'none') return [];
    const ns = v.split(',').map((s) => Number(s.trim()));
    if (ns.length === 0 || ns.some((n) => !Number.isInteger(n) || n < 1 || n > 512)) {
      throw new Error(`--${name} must be a comma-separated list of numbers from 1 to 512`);
    }
    return ns;
  };
  const rounds = Number(values.rounds ?? '3');
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) {
    throw new Error('--rounds must be a number from 1 to 100');
  }
  const serverDelayMs = Number(values['server-delay'] ?? '0');
  if (!Number.isFinite(serverDelayMs) || serverDelayMs < 0 || serverDelayMs > 10_000) {
    throw new Error('--server-delay must be a number of ms from 0 to 10000');
  }
  return {
    ns: list('n', values.n, [4, 16, 64]),
    processNs: list('process-n', values['process-n'], [4, 16]),
    rounds,
    serverDelayMs,
    json: values.json === true,
  };
}

function progress(text: string): void {
  process.stderr.write(`bench/concurrent: ${text}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// The daemon

interface World {
  readonly daemon: DaemonProcess;
  readonly server: NotaryServer;
  readonly adminToken: string;
  readonly tokens: Readonly<Record<Role, string>>;
  readonly tokenFiles: Readonly<Record<Role, string>>;
  readonly keys: Readonly<Record<Role, TufKey>>;
  readonly auditPath: string;
  readonly serverDelayMs: number;
}

/**
 * bench/daemon-setup's token, `ci` delegation key and `ci` client, and added to its
 * configuration: root and targets keys with an admin client that signs them (to create
 * the repositories), a second delegation key `qa` for targets/qa and a client `qa`.
 */
async function makeWorld(serverDelayMs: number): Promise<World> {
  progress('creating a SoftHSM2 token and keys, starting notary-server and notary-hsmd');
  const setup = await makeDaemonSetup({ prefix: 'concurrent-', sessions: 2 });
  const qaToken = newClientToken();
  const guns = [BENCH_GUNS];
  const adminToken = await addAdminKeys(setup, {
    keys: [
      {
        name: 'qa',
        id: '04',
        role: 'delegation',
        delegation: { roles: ['targets/qa'], paths: ['**'] },
      },
    ],
    clients: [
      {
        name: 'qa',
        token_sha256: hashToken(qaToken),
        sign: [{ kind: 'delegation', keys: ['qa'], guns, roles: ['targets/qa'], paths: ['**'] }],
      },
    ],
  });
  const tokens = { 'targets/ci': setup.clientToken, 'targets/qa': qaToken };
  const tokenFiles = {
    'targets/ci': join(setup.dir, 'ci.token'),
    'targets/qa': join(setup.dir, 'qa.token'),
  };
  for (const role of ROLES) writeFileSync(tokenFiles[role], `${tokens[role]}\n`, { mode: 0o600 });

  const server = await startNotaryServer();
  const daemon = await startDaemonProcess(setup.config);
  progress(`notary-server at ${server.url}, notary-hsmd at ${daemon.url}`);
  const offered = (await new DaemonClient({ url: daemon.url, token: adminToken }).keys()).keys;
  const keyOf = (name: string): TufKey => {
    const k = offered.find((x) => x.name === name);
    if (!k) throw new Error(`notary-hsmd offers no key ${name} to the admin client`);
    return TufKey.fromJson(k.publicKey, '/publicKey');
  };
  return {
    daemon,
    server,
    adminToken,
    tokens,
    tokenFiles,
    keys: { 'targets/ci': keyOf('ci'), 'targets/qa': keyOf('qa') },
    auditPath: join(setup.dir, 'state', AUDIT_LOG_FILE),
    serverDelayMs,
  };
}

/** A new repository `gun` with targets/ci and targets/qa delegated to the daemon's keys. */
async function createRepository(w: World, gun: string): Promise<void> {
  const notary = new NotaryServerClient({ url: w.server.url });
  try {
    await initRepository({
      server: notary,
      gun,
      signing: daemonSigning({
        client: new DaemonClient({ url: w.daemon.url, token: w.adminToken }),
        rootKey: 'root',
        targetsKey: 'targets',
      }),
      delegations: ROLES.map((name) => ({
        name,
        keyIds: [w.keys[name].id],
        threshold: 1,
        paths: [''],
      })),
      delegationKeys: ROLES.map((r) => w.keys[r]),
    });
  } finally {
    notary.close();
  }
}

// ---------------------------------------------------------------------------------------
// Agents

/** What one in-process agent did, counted on its side. */
interface AgentCount {
  signRequests: number;
  reads: number;
  publishes: number;
  /** Error codes of refused sign requests and failed publishes. */
  signErrors: Record<string, number>;
  publishErrors: Record<string, number>;
  /** Milliseconds spent waiting for the server's GETs, the daemon's signatures, publishes. */
  getMs: number;
  signMs: number;
  publishMs: number;
}

function newCount(): AgentCount {
  return {
    signRequests: 0,
    reads: 0,
    publishes: 0,
    signErrors: {},
    publishErrors: {},
    getMs: 0,
    signMs: 0,
    publishMs: 0,
  };
}

/** Adds the time `p` takes to `c[field]`. */
async function timed<T>(
  c: AgentCount,
  field: 'getMs' | 'signMs' | 'publishMs',
  p: () => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  try {
    return await p();
  } finally {
    c[field] += performance.now() - t0;
  }
}

function codeOf(err: unknown): string {
  return isNotaryHsmError(err) ? err.code : err instanceof Error ? err.name : 'unknown';
}

function bump(into: Record<string, number>, key: string, by = 1): void {
  into[key] = (into[key] ?? 0) + by;
}

/** The last message of each publish error code (for the report). */
const publishErrorSamples = new Map<string, string>();

/**
 * `server`, counting reads of the current root (each starts a fetch) and publishes, each
 * request `delayMs` later than asked.
 */
function countingServer(server: TrustServer, c: AgentCount, delayMs: number): TrustServer {
  const later = async <T>(f: () => Promise<T>): Promise<T> => {
    if (delayMs > 0) await sleep(delayMs);
    return f();
  };
  return {
    getCurrent: (gun, role, maxBytes, o) => {
      if (role === 'root') c.reads++;
      return timed(c, 'getMs', () => later(() => server.getCurrent(gun, role, maxBytes, o)));
    },
    getByHash: (gun, role, sha, maxBytes, o) =>
      timed(c, 'getMs', () => later(() => server.getByHash(gun, role, sha, maxBytes, o))),
    getServerKey: (gun, role) => server.getServerKey(gun, role),
    publish: async (gun, files, o) => {
      c.publishes++;
      try {
        await timed(c, 'publishMs', () => later(() => server.publish(gun, files, o)));
      } catch (err) {
        bump(c.publishErrors, codeOf(err));
        publishErrorSamples.set(codeOf(err), err instanceof Error ? err.message : String(err));
        throw err;
      }
    },
  };
}

/** `signing`, counting sign requests and their refusals. */
function countingSigning(signing: MetadataSigning, c: AgentCount): MetadataSigning {
  return {
    rootKeys: (gun) => signing.rootKeys(gun),
    targetsKey: () => signing.targetsKey(),
    sign: async <T extends RoleModel>(
      gun: string,
      role: string,
      signed: T,
      requirements: Parameters<MetadataSigning['sign']>[3],
    ) => {
      c.signRequests++;
      try {
        return await timed(c, 'signMs', () => signing.sign(gun, role, signed, requirements));
      } catch (err) {
        bump(c.signErrors, codeOf(err));
        throw err;
      }
    },
  };
}

interface Job {
  readonly tag: string;
  readonly role: Role;
}

const digestOf = (gun: string, tag: string): Buffer =>
  createHash('sha256').update(`${gun}:${tag}`).digest();

interface AgentResult {
  readonly job: Job;
  /** From the batch's start until this agent's tag had landed (or it failed). */
  readonly ms: number;
  readonly error?: string;
  readonly count?: AgentCount;
}

/** One in-process agent: its own clients, one `updateTargets` adding `job.tag`. */
async function signInProcess(w: World, gun: string, job: Job, t0: number): Promise<AgentResult> {
  const count = newCount();
  const notary = new NotaryServerClient({ url: w.server.url });
  const client = new DaemonClient({ url: w.daemon.url, token: w.tokens[job.role] });
  try {
    await updateTargets({
      server: countingServer(notary, count, w.serverDelayMs),
      gun,
      role: job.role,
      signing: countingSigning(daemonSigning({ client }), count),
      changes: {
        add: new Map([[job.tag, FileMeta.sha256(digestOf(gun, job.tag), job.tag.length)]]),
      },
    });
    return { job, ms: performance.now() - t0, count };
  } catch (err) {
    const error = `${codeOf(err)}: ${err instanceof Error ? err.message : String(err)}`;
    return { job, ms: performance.now() - t0, error, count };
  } finally {
    notary.close();
  }
}

const children = new Set<ChildProcess>();

/** One `bin/notary-hsm sign GUN:TAG` process. */
function signProcess(w: World, gun: string, job: Job, t0: number): Promise<AgentResult> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NOTARY_HSM_SIGNER: w.daemon.url,
    NOTARY_HSM_SERVER: w.server.url,
  };
  delete env.NOTARY_HSM_TOKEN;
  const child = spawn(
    process.execPath,
    [
      CLI,
      'sign',
      `${gun}:${job.tag}`,
      '--digest',
      `sha256:${digestOf(gun, job.tag).toString('hex')}`,
      '--size',
      String(job.tag.length),
      '--role',
      job.role,
      '--token-file',
      w.tokenFiles[job.role],
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => {
    child.once('error', (err) => {
      children.delete(child);
      resolve({ job, ms: performance.now() - t0, error: `spawn: ${err.message}` });
    });
    child.once('close', (code, signal) => {
      children.delete(child);
      const ms = performance.now() - t0;
      if (code === 0) resolve({ job, ms });
      else resolve({ job, ms, error: `exit ${String(code ?? signal)}: ${output.trim()}` });
    });
  });
}

// ---------------------------------------------------------------------------------------
// Batches

type Mode = 'in-process' | 'in-process, 2 delegations' | 'processes';
type Kind = 'sequential' | 'concurrent';

interface DaemonCount {
  signed: number;
  refused: number;
  failed: number;
  refusedCodes: Record<string, number>;
}

interface Batch {
  readonly round: number;
  readonly n: number;
  readonly mode: Mode;
  readonly kind: Kind;
  readonly gun: string;
  readonly ms: number;
  readonly landed: number;
  /** Tags the repository does not list (with the right digest) at the end. */
  readonly missing: string[];
  /** Agents that failed, with their error. */
  readonly failures: string[];
  /** When each agent's tag had landed, from the batch's start, sorted (ms). */
  readonly landedAtMs: number[];
  /** Between one landing and the next: median and longest (ms; none for N = 1). */
  readonly gapMs: { median: number; max: number };
  /** Sign requests for the GUN's delegations as the daemon's audit log records them. */
  readonly daemon: DaemonCount;
  /**
   * % of one core over the batch (bench/daemon-proc.ts): this process (the in-process
   * agents), the daemon's threads and module hosts, notary-server, the machine, and what
   * ran besides (`not this bench`: the CLI processes, or another program).
   */
  readonly cpu: Record<string, number>;
  /**
   * This process's event-loop delay over the batch (ms; p50, p99, max): how long an
   * in-process agent's answer could wait behind the other agents' work.
   */
  readonly loopDelayMs: { p50: number; p99: number; max: number };
  /** The delegations' versions at the end (no version skipped: version = tags). */
  readonly versions: Record<string, number>;
  /** In process: the agents' own counts, summed, and the most any one agent needed. */
  readonly agents?: {
    signRequests: number;
    reads: number;
    publishes: number;
    signErrors: Record<string, number>;
    publishErrors: Record<string, number>;
    maxSignRequests: number;
    msMedian: number;
    /** Summed over the agents: waiting for GETs, for the daemon, for publishes (ms). */
    getMs: number;
    signMs: number;
    publishMs: number;
  };
}

async function auditCount(w: World, gun: string): Promise<DaemonCount> {
  const out: DaemonCount = { signed: 0, refused: 0, failed: 0, refusedCodes: {} };
  for await (const r of readAudit(w.auditPath, { gun })) {
    if (r.role === undefined || !r.role.startsWith('targets/')) continue;
    if (r.outcome === 'signed') out.signed++;
    else if (r.outcome === 'refused') {
      out.refused++;
      bump(out.refusedCodes, r.code ?? 'unknown');
    } else if (r.outcome === 'failed') out.failed++;
  }
  return out;
}

/** Reads `gun` back, verified, and returns the jobs whose tag it does not list as signed. */
async function missingTags(
  w: World,
  gun: string,
  jobs: readonly Job[],
): Promise<{ missing: string[]; versions: Record<string, number> }> {
  const notary = new NotaryServerClient({ url: w.server.url });
  try {
    const repo = await readRepository(notary, gun);
    const listed = new Map(listTargets(repo).map((t) => [t.name, t]));
    const missing = jobs
      .filter((j) => {
        const t = listed.get(j.tag);
        return (
          t === undefined ||
          t.role !== j.role ||
          t.digest !== `sha256:${digestOf(gun, j.tag).toString('hex')}`
        );
      })
      .map((j) => `${j.role}:${j.tag}`);
    const versions: Record<string, number> = {};
    for (const role of ROLES) {
      const v = repo.targets.get(role)?.signed.version;
      if (v !== undefined) versions[role] = v;
    }
    return { missing, versions };
  } finally {
    notary.close();
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0
    ? NaN
    : s.length % 2
      ? (s[m] as number)
      : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

let runId = '';

async function runBatch(
  w: World,
  round: number,
  n: number,
  mode: Mode,
  kind: Kind,
): Promise<Batch> {
  const short = { 'in-process': 'ip', 'in-process, 2 delegations': 'ip2', processes: 'pr' }[mode];
  const gun = `localhost:5000/bench/conc-${runId}-r${round}-${short}-${kind.slice(0, 3)}-n${n}`;
  await createRepository(w, gun);
  const jobs: Job[] = Array.from({ length: n }, (_, i) => ({
    tag: `agent${i}`,
    role: mode === 'in-process, 2 delegations' ? ROLES[i % 2]! : 'targets/ci',
  }));
  const one = mode === 'processes' ? signProcess : signInProcess;
  const watched: Watched = {
    server: w.daemon.child.pid ?? -1,
    serverLabel: 'daemon',
    others: { 'notary-server': w.server.pid, bench: process.pid },
  };
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const before = cpuSnapshot(watched);
  const t0 = performance.now();
  let results: AgentResult[];
  if (kind === 'concurrent') {
    results = await Promise.all(jobs.map((j) => one(w, gun, j, t0)));
  } else {
    results = [];
    for (const j of jobs) results.push(await one(w, gun, j, t0));
  }
  const ms = performance.now() - t0;
  const cpu = cpuBetween(before, cpuSnapshot(watched));
  loop.disable();
  // samples are the time between 1 ms ticks: 1 ms is on time
  const delay = (ns: number): number => Math.max(0, ns / 1e6 - 1);
  const loopDelayMs = {
    p50: delay(loop.percentile(50)),
    p99: delay(loop.percentile(99)),
    max: delay(loop.max),
  };
  const { missing, versions } = await missingTags(w, gun, jobs);
  const landedAtMs = results
    .filter((r) => r.error === undefined)
    .map((r) => r.ms)
    .sort((a, b) => a - b);
  const gaps = landedAtMs.slice(1).map((t, i) => t - (landedAtMs[i] as number));
  const failures = results
    .filter((r) => r.error !== undefined)
    .map((r) => `${r.job.tag}: ${r.error}`);
  const counts = results.flatMap((r) => (r.count ? [r.count] : []));
  const agents =
    counts.length === 0
      ? undefined
      : {
          signRequests: counts.reduce((s, c) => s + c.signRequests, 0),
          reads: counts.reduce((s, c) => s + c.reads, 0),
          publishes: counts.reduce((s, c) => s + c.publishes, 0),
          signErrors: sumCodes(counts.map((c) => c.signErrors)),
          publishErrors: sumCodes(counts.map((c) => c.publishErrors)),
          maxSignRequests: Math.max(...counts.map((c) => c.signRequests)),
          msMedian: median(results.map((r) => r.ms)),
          getMs: counts.reduce((s, c) => s + c.getMs, 0),
          signMs: counts.reduce((s, c) => s + c.signMs, 0),
          publishMs: counts.reduce((s, c) => s + c.publishMs, 0),
        };
  const batch: Batch = {
    round,
    n,
    mode,
    kind,
    gun,
    ms,
    landed: n - missing.length,
    missing,
    failures,
    landedAtMs,
    gapMs: { median: median(gaps), max: gaps.length ? Math.max(...gaps) : NaN },
    daemon: await auditCount(w, gun),
    cpu,
    loopDelayMs,
    versions,
    ...(agents ? { agents } : {}),
  };
  progress(describe(batch));
  return batch;
}

function sumCodes(all: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const codes of all) for (const [k, v] of Object.entries(codes)) bump(out, k, v);
  return out;
}

function codes(c: Record<string, number>): string {
  const e = Object.entries(c);
  return e.length === 0 ? 'none' : e.map(([k, v]) => `${v} ${k}`).join(', ');
}

function describe(b: Batch): string {
  const d = b.daemon;
  const parts = [
    `round ${b.round} N=${b.n} ${b.mode} ${b.kind}: ${Math.round(b.ms)} ms`,
    `${b.landed}/${b.n} landed`,
    `gap between landings median ${Math.round(b.gapMs.median)} ms, longest ${Math.round(b.gapMs.max)} ms`,
    `daemon: ${d.signed} signed, ${d.refused} refused (${codes(d.refusedCodes)})` +
      (d.failed ? `, ${d.failed} failed` : ''),
    `versions ${Object.entries(b.versions)
      .map(([r, v]) => `${r} v${v}`)
      .join(', ')}`,
  ];
  const l = b.loopDelayMs;
  parts.push(
    `bench event-loop delay p50/p99/max ${l.p50.toFixed(1)}/${l.p99.toFixed(1)}/${l.max.toFixed(1)} ms`,
    `CPU % of a core: ${Object.entries(b.cpu)
      .map(([k, v]) => `${k} ${Math.round(v)}`)
      .join(', ')}`,
  );
  if (b.agents) {
    parts.push(
      `agents: ${b.agents.publishes} publishes (errors: ${codes(b.agents.publishErrors)}), ` +
        `${b.agents.reads} reads, most sign requests by one agent ${b.agents.maxSignRequests}; ` +
        `waiting (summed): GETs ${Math.round(b.agents.getMs)} ms, daemon ` +
        `${Math.round(b.agents.signMs)} ms, publishes ${Math.round(b.agents.publishMs)} ms`,
    );
  }
  return parts.join('; ');
}

// ---------------------------------------------------------------------------------------
// Report

interface Row {
  mode: Mode;
  n: number;
  sequential: number[];
  concurrent: number[];
  /** Daemon sign requests (signed + refused + failed) per landed tag, concurrent batches. */
  requestsPerTag: number;
  refusedPerRound: number;
  publishErrorsPerRound?: number;
  maxSignRequests?: number;
  /** Median over rounds of each batch's median gap between landings (ms). */
  gapSequential: number;
  gapConcurrent: number;
  /** Versions signed but never published, per round (the delegations' final versions − tags). */
  skippedPerRound: number;
  /** The most CPU that ran besides the bench (% of a core) in one of these batches. */
  othersMax: number;
}

function rows(o: Options, batches: readonly Batch[]): Row[] {
  const out: Row[] = [];
  const pick = (mode: Mode, kind: Kind, n: number) =>
    batches.filter((b) => b.mode === mode && b.kind === kind && b.n === n);
  const add = (mode: Mode, seqMode: Mode, n: number): void => {
    const seq = pick(seqMode, 'sequential', n);
    const conc = pick(mode, 'concurrent', n);
    if (conc.length === 0) return;
    const requests = conc.reduce(
      (s, b) => s + b.daemon.signed + b.daemon.refused + b.daemon.failed,
      0,
    );
    const landed = conc.reduce((s, b) => s + b.landed, 0);
    const inProc = conc.flatMap((b) => (b.agents ? [b.agents] : []));
    out.push({
      mode,
      n,
      sequential: seq.map((b) => b.ms),
      concurrent: conc.map((b) => b.ms),
      requestsPerTag: landed === 0 ? NaN : requests / landed,
      refusedPerRound: conc.reduce((s, b) => s + b.daemon.refused, 0) / conc.length,
      gapSequential: median(seq.map((b) => b.gapMs.median)),
      gapConcurrent: median(conc.map((b) => b.gapMs.median)),
      skippedPerRound:
        conc.reduce(
          (s, b) => s + Object.values(b.versions).reduce((x, y) => x + y, 0) - b.landed,
          0,
        ) / conc.length,
      othersMax: Math.max(...[...seq, ...conc].map((b) => b.cpu['not this bench'] ?? NaN)),
      ...(inProc.length
        ? {
            publishErrorsPerRound:
              inProc.reduce(
                (s, a) => s + Object.values(a.publishErrors).reduce((x, y) => x + y, 0),
                0,
              ) / inProc.length,
            maxSignRequests: Math.max(...inProc.map((a) => a.maxSignRequests)),
          }
        : {}),
    });
  };
  for (const n of o.ns) {
    add('in-process', 'in-process', n);
    add('in-process, 2 delegations', 'in-process', n);
  }
  for (const n of o.processNs) add('processes', 'processes', n);
  return out;
}

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i <= 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)].join('\n');
}

function report(o: Options, batches: readonly Batch[], date: string): boolean {
  const spread = (xs: readonly number[]): string =>
    xs.length === 0
      ? '-'
      : `${Math.round(Math.min(...xs))} / ${Math.round(median(xs))} / ${Math.round(Math.max(...xs))}`;
  const rs = rows(o, batches);
  console.log(
    `\nConcurrent signers — ${date}, node ${process.version}, ${cpus().length} CPUs, ` +
      `${o.rounds} round(s)` +
      (o.serverDelayMs > 0
        ? `, +${o.serverDelayMs} ms before each request to notary-server (in process)`
        : '') +
      '; wall time until every tag landed, ms (min / median / max)\n',
  );
  console.log(
    table(
      [
        'signers',
        'N',
        'sequential ms',
        'concurrent ms',
        'conc/seq',
        'daemon req/tag',
        'refused/round',
        'publish err/round',
        'skipped versions/round',
        'max attempts',
        'gap ms seq/conc',
        'others %',
      ],
      rs.map((r) => [
        r.mode,
        String(r.n),
        spread(r.sequential),
        spread(r.concurrent),
        r.sequential.length ? (median(r.concurrent) / median(r.sequential)).toFixed(2) : '-',
        r.requestsPerTag.toFixed(2),
        r.refusedPerRound.toFixed(1),
        r.publishErrorsPerRound === undefined ? '-' : r.publishErrorsPerRound.toFixed(1),
        r.skippedPerRound.toFixed(1),
        r.maxSignRequests === undefined ? '-' : String(r.maxSignRequests),
        `${Math.round(r.gapSequential)} / ${Math.round(r.gapConcurrent)}`,
        r.mode === 'processes' ? '-' : String(Math.round(r.othersMax)),
      ]),
    ),
  );
  console.log(
    '\nsequential: N signatures one after another (one update each); concurrent: N started ' +
      'together. "in-process, 2 delegations" is compared with the in-process sequential figure. ' +
      'daemon req/tag: sign requests the daemon audited (signed + refused) per landed tag in ' +
      'the concurrent batches; skipped versions: signed but never published (a publish the ' +
      'server refused); max attempts: the most sign requests one agent made (the update loop ' +
      `allows ${DEFAULT_RETRIES + 1}); gap: median time between one landing and the next; ` +
      'others %: the most CPU used besides the bench in one batch, % of a core (above a few %, rerun).',
  );
  for (const [code, message] of publishErrorSamples) {
    console.log(`publish refused, ${code}: ${message}`);
  }
  const seqReq = batches
    .filter((b) => b.kind === 'sequential')
    .reduce((s, b) => s + b.daemon.signed + b.daemon.refused + b.daemon.failed - b.landed, 0);
  console.log(`sequential batches: ${seqReq} daemon sign requests beyond one per tag.`);
  const bad = batches.filter((b) => b.missing.length > 0 || b.failures.length > 0);
  for (const b of bad) {
    console.error(
      `ERROR: round ${b.round} N=${b.n} ${b.mode} ${b.kind} (${b.gun}): ` +
        `${b.missing.length} tag(s) missing: ${b.missing.join(', ')}`,
    );
    for (const f of b.failures) console.error(`  ${f}`);
  }
  if (o.json) {
    console.log(
      JSON.stringify({
        bench: 'concurrent',
        date,
        node: process.version,
        cpus: cpus().length,
        options: o,
        rows: rs.map((r) => ({
          ...r,
          ratio: r.sequential.length ? median(r.concurrent) / median(r.sequential) : null,
        })),
        batches,
      }),
    );
  }
  return bad.length === 0;
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const date = new Date().toISOString();
  runId = Date.now().toString(36);
  const w = await makeWorld(o.serverDelayMs);
  progress('warm-up (not measured): 4 in-process signers, sequential and concurrent, 1 process');
  await runBatch(w, 0, 4, 'in-process', 'sequential');
  await runBatch(w, 0, 4, 'in-process', 'concurrent');
  if (o.processNs.length > 0) await runBatch(w, 0, 1, 'processes', 'sequential');
  const batches: Batch[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    // every other round the other way round, so that a drift favours neither kind
    const kinds: Kind[] = round % 2 ? ['sequential', 'concurrent'] : ['concurrent', 'sequential'];
    for (const n of o.ns) {
      for (const kind of kinds) batches.push(await runBatch(w, round, n, 'in-process', kind));
      batches.push(await runBatch(w, round, n, 'in-process, 2 delegations', 'concurrent'));
    }
    for (const n of o.processNs) {
      for (const kind of kinds) batches.push(await runBatch(w, round, n, 'processes', kind));
    }
  }
  const ok = report(o, batches, date);
  const exit = await w.daemon.stop();
  if (exit !== 0) progress(`notary-hsmd exited with ${String(exit)}`);
  await w.server.stop();
  return ok ? 0 : 1;
}

async function stopAll(): Promise<void> {
  for (const c of children) c.kill('SIGKILL');
  await stopServers();
  await cleanUp(5000);
}

process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  killServersNow();
  killAllNow();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    progress(`${sig}: stopping what the bench started`);
    void stopAll().finally(() => process.exit(130));
  });
}

main()
  .catch((err: unknown) => {
    process.stderr.write(
      `bench/concurrent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  })
  .then(async (code) => {
    await stopAll();
    process.exitCode = code;
  })
  .catch(() => {
    process.exitCode = 1;
  });
