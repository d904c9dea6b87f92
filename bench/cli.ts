/**
 * bench/cli: notary-hsm's commands as whole processes, each paired with its reference in
 * one run on one loopback notary-server (interleaved A, B, A, B…; medians and minimums):
 *
 * - start-up: `notary-hsm --version` against `node -e 0`;
 * - the CI one-shot: `notary-hsm sign GUN:TAG` (fetch → notary-hsmd signs → publish)
 *   against the stock CLI's `notary addhash` + `notary publish` with its file keys;
 * - `sign --help` and the one-shot from bin/notary-hsm (the bundled command line) against
 *   the same from another script, by default the unbundled `dist/src/cli/main.js`;
 * - a repository of N tags (default 10,000): `notary-hsm add --from-file` of N tags against
 *   the stock CLI's `publish` of N staged tags; `notary-hsm list` and `notary-hsm verify
 *   GUN:TAG --pin-root` against `notary list` (its trust directory warm, as after a first
 *   use, and cold);
 * - signature checks per second in process (ECDSA P-256 over a 10,000-target file's bytes).
 *
 * Measured, not asserted (bench/README.md). Options: --tags N, --rounds R, --json,
 * --profile DIR, --against FILE.
 */
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  ROOT,
  addAdminKeys,
  cleanUp,
  killAllNow,
  makeDaemonSetup,
  makeTempDir,
  startDaemonProcess,
} from './daemon-setup';
import { killServersNow, publishDurations, startNotaryServer, stopServers } from './notary-server';
import { stockNotary, type StockNotary } from './stock-notary';
import { TufKey } from '../src/metadata/keys';
import { verifySignature } from '../src/metadata/verify';

const CLI = join(ROOT, 'bin', 'notary-hsm');
/** The same command line unbundled, as tsc emitted it (it runs when it is the main module). */
const UNBUNDLED = join(ROOT, 'dist', 'src', 'cli', 'main.js');

interface Options {
  tags: number;
  rounds: number;
  json: boolean;
  /** Profile one `add --from-file` and one `sign` (--cpu-prof into this directory) instead. */
  profile?: string;
  /** Print when each HTTP request of one `add --from-file` and one `sign` is made instead. */
  timeline: boolean;
  /** The script measured against bin/notary-hsm for its start and the one-shot. */
  against: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      tags: { type: 'string', default: '10000' },
      rounds: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
      profile: { type: 'string' },
      timeline: { type: 'boolean', default: false },
      against: { type: 'string', default: UNBUNDLED },
    },
  });
  const tags = Number(values.tags);
  const rounds = Number(values.rounds);
  if (!(Number.isSafeInteger(tags) && tags >= 1 && Number.isSafeInteger(rounds) && rounds >= 1)) {
    throw new Error(
      'usage: node dist/bench/bench/cli.js [--tags N] [--rounds R] [--json] [--profile DIR | --timeline] [--against FILE]',
    );
  }
  return {
    tags,
    rounds,
    json: values.json,
    timeline: values.timeline,
    against: values.against,
    ...(values.profile ? { profile: values.profile } : {}),
  };
}

function progress(text: string): void {
  process.stderr.write(`bench/cli: ${text}\n`);
}

interface Run {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

/** Wall time of one whole process, spawn to exit (ms); throws when it fails. */
function timeProcess(r: Run): Promise<{ ms: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(r.cmd, r.args, {
      env: r.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve({ ms, out });
      else reject(new Error(`${r.cmd} ${r.args.join(' ')}: exit ${code}\n${out.slice(-2000)}`));
    });
  });
}

/** Runs `steps` in order and adds their times (a pair of commands is one measurement). */
async function timeSteps(steps: readonly Run[]): Promise<number> {
  let ms = 0;
  for (const s of steps) ms += (await timeProcess(s)).ms;
  return ms;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Pair {
  name: string;
  a: string;
  b: string;
  aMs: number[];
  bMs: number[];
  goal?: number;
}

/** `rounds` interleaved measurements of A (ours) and B (the reference), B first on odd rounds. */
async function pair(
  p: Omit<Pair, 'aMs' | 'bMs'>,
  rounds: number,
  a: (i: number) => Promise<number>,
  b: (i: number) => Promise<number>,
): Promise<Pair> {
  const out: Pair = { ...p, aMs: [], bMs: [] };
  for (let i = 0; i < rounds; i++) {
    if (i % 2) {
      out.bMs.push(await b(i));
      out.aMs.push(await a(i));
    } else {
      out.aMs.push(await a(i));
      out.bMs.push(await b(i));
    }
  }
  progress(`${p.name}: ${Math.round(median(out.aMs))} ms vs ${Math.round(median(out.bMs))} ms`);
  return out;
}

const digest = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Checks per second of an ECDSA P-256 TUF signature over `message`, in process. */
function signatureChecks(message: Buffer, seconds = 2): number {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = TufKey.ecdsa(publicKey.export({ format: 'der', type: 'spki' }));
  const sig = nodeSign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) {
      if (!verifySignature(key, 'ecdsa', message, sig)) throw new Error('signature check failed');
    }
    n += 100;
  }
  return n / seconds;
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  progress('creating a SoftHSM2 token and keys, starting notary-server and notary-hsmd');
  const setup = await makeDaemonSetup({ prefix: 'cli-', sessions: 2 });
  const adminToken = await addAdminKeys(setup);
  const adminFile = join(setup.dir, 'admin.token');
  const ciFile = join(setup.dir, 'ci.token');
  writeFileSync(adminFile, `${adminToken}\n`, { mode: 0o600 });
  writeFileSync(ciFile, `${setup.clientToken}\n`, { mode: 0o600 });

  const server = await startNotaryServer();
  const daemon = await startDaemonProcess(
    setup.config,
    o.profile ? { cpuProfDir: join(o.profile, 'daemon') } : {},
  );
  const work = await makeTempDir('cli-work-');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NOTARY_HSM_SIGNER: daemon.url,
    NOTARY_HSM_SERVER: server.url,
    NOTARY_HSM_TRUST_DIR: join(work, 'trust'),
  };
  delete env.NOTARY_HSM_TOKEN;
  const ours = (args: string[], token = ciFile, script = CLI): Run => ({
    cmd: process.execPath,
    args: [script, ...args, ...(token ? ['--token-file', token] : [])],
    env,
  });
  const theirs = (cli: StockNotary, args: string[]): Run => {
    const c = cli.command(args);
    return { cmd: c.cmd, args: c.args, env: c.env };
  };
  const stamp = Date.now().toString(36);
  const oneShotGun = `localhost:5000/bench/cli-sign-${stamp}`;
  const bigGun = `localhost:5000/bench/cli-big-${stamp}`;
  const stockSignGun = `localhost:5000/bench/cli-stock-sign-${stamp}`;
  const stockBigGun = `localhost:5000/bench/cli-stock-big-${stamp}`;

  progress('creating the repositories');
  let rootKeyId = '';
  for (const gun of [oneShotGun, bigGun]) {
    const init = await timeProcess(
      ours(['init', gun, '--root-key', 'root', '--delegation', 'targets/ci',
        '--delegation-key', 'ci', '--json'], adminFile), // prettier-ignore
    );
    rootKeyId = (JSON.parse(init.out.trim().split('\n').pop() ?? '{}') as { rootKeyIds: string[] })
      .rootKeyIds[0] as string;
  }
  const stock = await stockNotary(server.url);
  for (const gun of [stockSignGun, stockBigGun]) {
    await stock.run(['init', gun, '-p']);
  }

  // N tags: each round publishes N tags whose digests change with the round.
  const tagsFor = (round: number): Map<string, { sha256: string; length: number }> => {
    const m = new Map<string, { sha256: string; length: number }>();
    for (let t = 0; t < o.tags; t++) {
      m.set(`tag-${t}`, { sha256: digest(`${round}/${t}`), length: 1000 + t });
    }
    return m;
  };
  const tagFile = (round: number): string => {
    const file = join(work, `tags-${round}.txt`);
    const lines = [...tagsFor(round)].map(([n, t]) => `${n}=sha256:${t.sha256}:${t.length}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  };

  if (o.profile !== undefined || o.timeline) {
    // One process of each, wrapped: under V8's profiler, or with the HTTP timeline hook.
    const timelineFile = join(work, 'timeline.txt');
    const wrapped = (run: Run): Run =>
      o.profile !== undefined
        ? { ...run, args: ['--cpu-prof', '--cpu-prof-dir', o.profile, ...run.args] }
        : {
            ...run,
            args: ['-r', join(__dirname, 'http-timeline.js'), ...run.args],
            env: { ...run.env, NOTARY_HSM_BENCH_TIMELINE: timelineFile },
          };
    const signOne = (tag: string): Run =>
      ours(['sign', `${oneShotGun}:${tag}`, '--digest', `sha256:${digest(tag)}`,
        '--size', '1', '--role', 'targets/ci']); // prettier-ignore
    // The measured rounds add N new digests to a repository that already holds N tags, and
    // sign into a delegation that has a file: take those (the second of each), not the first.
    await timeProcess(ours(['add', bigGun, '--from-file', tagFile(0), '--role', 'targets/ci']));
    await timeProcess(signOne('p0'));
    const signing = daemon.collectRequestMs('/v1/sign/delegation');
    const add = await timeProcess(
      wrapped(ours(['add', bigGun, '--from-file', tagFile(1), '--role', 'targets/ci'])),
    );
    const sign = await timeProcess(wrapped(signOne('p1')));
    progress(
      `add ${o.tags}: ${Math.round(add.ms)} ms, sign: ${Math.round(sign.ms)} ms (spawn to exit); daemon ms per sign request: ${signing
        .take()
        .map((x) => x.toFixed(1))
        .join(', ')}`,
    );
    if (o.profile !== undefined) progress(`profiles in ${o.profile}`);
    else
      process.stdout.write(
        `ms since each process started:\n\n${readFileSync(timelineFile, 'utf8')}`,
      );
    await daemon.stop();
    await server.stop();
    return 0;
  }

  const pairs: Pair[] = [];
  pairs.push(
    await pair(
      { name: 'start-up', a: 'notary-hsm --version', b: 'node -e 0', goal: 1.3 },
      Math.max(10, o.rounds * 2),
      () => timeSteps([ours(['--version'], '')]),
      () => timeSteps([{ cmd: process.execPath, args: ['-e', '0'] }]),
    ),
  );
  pairs.push(
    await pair(
      { name: 'start of a command', a: 'notary-hsm sign --help', b: 'node -e 0' },
      Math.max(10, o.rounds * 2),
      () => timeSteps([ours(['sign', '--help'], '')]),
      () => timeSteps([{ cmd: process.execPath, args: ['-e', '0'] }]),
    ),
  );
  pairs.push(
    await pair(
      {
        name: 'CI one-shot',
        a: 'notary-hsm sign GUN:TAG (daemon, SoftHSM2)',
        b: 'notary addhash + notary publish (file key)',
        goal: 1.5,
      },
      Math.max(6, o.rounds),
      (i) =>
        timeSteps([
          ours(['sign', `${oneShotGun}:t${i}`, '--digest', `sha256:${digest(`t${i}`)}`,
            '--size', '2', '--role', 'targets/ci']), // prettier-ignore
        ]),
      (i) =>
        timeSteps([
          theirs(stock, ['addhash', stockSignGun, `t${i}`, '2', '--sha256', digest(`t${i}`)]),
          theirs(stock, ['publish', stockSignGun]),
        ]),
    ),
  );

  // The same command line from another script (by default the unbundled tsc output):
  // what bundling (or whatever --against runs) changes in a command's start and the one-shot.
  const against = `node ${relative(ROOT, o.against)}`;
  pairs.push(
    await pair(
      { name: 'start, bundled', a: 'notary-hsm sign --help', b: `${against} sign --help` },
      Math.max(10, o.rounds * 2),
      () => timeSteps([ours(['sign', '--help'], '')]),
      () => timeSteps([ours(['sign', '--help'], '', o.against)]),
    ),
  );
  const oneShot = (i: number, script: string): Run =>
    ours(['sign', `${oneShotGun}:u${i}`, '--digest', `sha256:${digest(`u${i}`)}`,
      '--size', '2', '--role', 'targets/ci'], ciFile, script); // prettier-ignore
  pairs.push(
    await pair(
      { name: 'one-shot, bundled', a: 'notary-hsm sign GUN:TAG', b: `${against} sign GUN:TAG` },
      Math.max(6, o.rounds),
      (i) => timeSteps([oneShot(i, CLI)]),
      (i) => timeSteps([oneShot(i + 1000, o.against)]),
    ),
  );

  // Both repositories first hold N tags (one publish each, not timed), so that every
  // measured round replaces N tags of an N-tag repository, for both CLIs alike: into an
  // empty repository the stock CLI's first publish has nothing to download and merge.
  const WARM = 1_000_000;
  await timeProcess(ours(['add', bigGun, '--from-file', tagFile(WARM), '--role', 'targets/ci']));
  await stock.stage(stockBigGun, tagsFor(WARM));
  await timeProcess(theirs(stock, ['publish', stockBigGun]));
  const addRounds = Math.max(2, Math.min(o.rounds, 5));
  pairs.push(
    await pair(
      {
        name: `add ${o.tags} tags`,
        a: `notary-hsm add --from-file (${o.tags} tags)`,
        b: `notary publish (${o.tags} tags staged)`,
        goal: 0.5,
      },
      addRounds,
      (i) => timeSteps([ours(['add', bigGun, '--from-file', tagFile(i), '--role', 'targets/ci'])]),
      async (i) => {
        await stock.stage(stockBigGun, tagsFor(i));
        return timeSteps([theirs(stock, ['publish', stockBigGun])]);
      },
    ),
  );

  // The floor under both: notary-server's own time to accept each publish of N tags (its
  // log's response duration), for our publishes and the stock CLI's, in the same rounds.
  const serverMs = {
    ours: publishDurations(server.logFile, bigGun).slice(-addRounds),
    stock: publishDurations(server.logFile, stockBigGun).slice(-addRounds),
  };
  progress(
    `notary-server's own time per publish of ${o.tags} tags: ${serverMs.ours.map(Math.round).join(', ')} ms (ours), ${serverMs.stock.map(Math.round).join(', ')} ms (stock)`,
  );

  // Reading: both CLIs read the same notary-hsm repository of N tags.
  const reader = await stockNotary(server.url);
  await reader.run(['list', bigGun]); // a warm trust directory, as after the first use
  const pinned = ['verify', `${bigGun}:tag-1`, '--pin-root', rootKeyId];
  await timeProcess(ours(pinned, ''));
  pairs.push(
    await pair(
      { name: `list ${o.tags} tags`, a: 'notary-hsm list', b: 'notary list (warm)', goal: 1.0 },
      o.rounds,
      () => timeSteps([ours(['list', bigGun], '')]),
      () => timeSteps([theirs(reader, ['list', bigGun])]),
    ),
  );
  pairs.push(
    await pair(
      {
        name: `verify in ${o.tags} tags`,
        a: 'notary-hsm verify GUN:TAG --pin-root (cache warm)',
        b: 'notary list (warm)',
        goal: 1.0,
      },
      o.rounds,
      () => timeSteps([ours(pinned, '')]),
      () => timeSteps([theirs(reader, ['list', bigGun])]),
    ),
  );
  pairs.push(
    await pair(
      { name: `list ${o.tags} tags, cold`, a: 'notary-hsm list', b: 'notary list (new trust dir)' },
      o.rounds,
      () => timeSteps([ours(['list', bigGun], '')]),
      async () => {
        const fresh = await stockNotary(server.url);
        return timeSteps([theirs(fresh, ['list', bigGun])]);
      },
    ),
  );

  const file = async (role: string): Promise<Buffer> =>
    Buffer.from(
      await (await fetch(`${server.url}/v2/${bigGun}/_trust/tuf/${role}.json`)).arrayBuffer(),
    );
  const checks: Checks[] = [];
  for (const [role, bytes] of [
    ['snapshot', await file('snapshot')],
    ['targets/ci', await file('targets/ci')],
  ] as const) {
    const perSecond = signatureChecks(bytes);
    checks.push({ role, bytes: bytes.length, perSecond });
    progress(`signature checks over ${role}: ${Math.round(perSecond)}/s (${bytes.length} bytes)`);
  }

  report(o, pairs, checks, serverMs);
  await daemon.stop();
  await server.stop();
  return 0;
}

interface Checks {
  role: string;
  bytes: number;
  perSecond: number;
}

/** notary-server's own ms per publish of N tags, ours and the stock CLI's. */
interface ServerPublishMs {
  ours: number[];
  stock: number[];
}

function report(
  o: Options,
  pairs: readonly Pair[],
  checks: readonly Checks[],
  serverMs: ServerPublishMs,
): void {
  const rows = pairs.map((p) => {
    const a = median(p.aMs);
    const b = median(p.bMs);
    const ratio = a / b;
    // Each round's own ratio (its A and B ran one after the other): the median of those
    // is less moved by a machine whose speed drifts over the run.
    const paired = median(p.aMs.map((x, i) => x / (p.bMs[i] as number)));
    return [
      p.name,
      p.a,
      `${Math.round(a)} (min ${Math.round(Math.min(...p.aMs))})`,
      p.b,
      `${Math.round(b)} (min ${Math.round(Math.min(...p.bMs))})`,
      `${ratio.toFixed(2)}× (per round ${paired.toFixed(2)}×)`,
      p.goal === undefined ? '-' : `≤ ${p.goal}× ${ratio <= p.goal ? 'met' : 'NOT met'}`,
    ];
  });
  const header = ['what', 'notary-hsm', 'ms (median)', 'reference', 'ms (median)', 'ratio', 'goal'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(
    [
      `bench/cli: whole processes, interleaved, on one loopback notary-server (${new Date().toISOString()})`,
      line(header),
      ...rows.map(line),
      `notary-server's own time to accept one publish of ${o.tags} tags (median of its log's durations): ${Math.round(median(serverMs.ours))} ms for ours, ${Math.round(median(serverMs.stock))} ms for the stock CLI's`,
      ...checks.map(
        (c) =>
          `signature checks in process over ${c.role} (${c.bytes} bytes): ${Math.round(c.perSecond)}/s (ECDSA P-256; goal ≥ 10,000/s)`,
      ),
      '',
    ].join('\n'),
  );
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({ pairs: pairs.map((p) => ({ ...p, aMedian: median(p.aMs), bMedian: median(p.bMs) })), checks, serverPublishMs: serverMs })}\n`,
    );
  }
}

process.on('exit', () => {
  killServersNow();
  killAllNow();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void stopServers()
      .then(() => cleanUp(5000))
      .finally(() => process.exit(130));
  });
}

void main()
  .catch((err: unknown) => {
    process.stderr.write(
      `bench/cli: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  })
  .then(async (code) => {
    await stopServers();
    await cleanUp(5000);
    process.exit(code);
  });
