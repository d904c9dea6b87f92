/**
 * Concurrent signers: the time for N CI agents (N = 4, 16, 64) signing one tag each into
 * the same delegation of one repository to all land, against the same N signatures made
 * one after another — in one run, on one machine, with a real notary-server and
 * notary-hsmd on SoftHSM2, all on 127.0.0.1. Each agent is an in-process `updateTargets`
 * call with its own daemon and server clients, going through the update loop
 * (client/update-loop.ts) as `notary-hsm sign` does. Printed per N: wall time (min /
 * median / max over rounds), the ratio concurrent / sequential, and signatures asked of
 * the daemon per landed tag (1.0 means no retry needed a new signature). Every round
 * checks that the repository lists every tag, and exits non-zero if one is missing.
 *
 *   node dist/bench/bench/concurrent.js [--n 4,16,64] [--rounds 3] [--json]
 *
 * Root and targets of the bench repositories are signed by in-process test keys: only
 * the delegation's signatures, the ones measured, come from the daemon.
 */
import { createHash } from 'node:crypto';
import { DaemonClient } from '../src/client/daemon-client';
import { listTargets } from '../src/client/list';
import { initRepository } from '../src/client/publish';
import { readRepository } from '../src/client/reader';
import { daemonSigning, localSigning, type MetadataSigning } from '../src/client/signing';
import { updateTargets } from '../src/client/targets-update';
import { FileMeta } from '../src/metadata/file-meta';
import { TufKey } from '../src/metadata/keys';
import { NotaryServerClient } from '../src/notary';
import { MemorySigner } from '../test/helpers/memory-signer';
import { startNotaryServer } from '../test/helpers/notary-server';
import {
  BENCH_GUN_PREFIX,
  BENCH_ROLE,
  cleanUp,
  makeDaemonSetup,
  startDaemonProcess,
} from './daemon-setup';

interface Args {
  ns: number[];
  rounds: number;
  json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { ns: [4, 16, 64], rounds: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--n') args.ns = (argv[++i] ?? '').split(',').map(Number);
    else if (a === '--rounds') args.rounds = Number(argv[++i]);
    else if (a === '--json') args.json = true;
    else throw new Error(`unknown argument ${String(a)}`);
  }
  if (args.ns.some((n) => !(n >= 1)) || !(args.rounds >= 1)) throw new Error('bad --n or --rounds');
  return args;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0] ?? 0, median: s[Math.floor(s.length / 2)] ?? 0, max: s[s.length - 1] ?? 0 };
};

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const setup = await makeDaemonSetup({ prefix: 'concurrent-', sessions: 1 });
  const daemon = await startDaemonProcess(setup.config);
  const server = await startNotaryServer();
  const rootSigner = new MemorySigner();
  const targetsSigner = new MemorySigner();
  const admin = new NotaryServerClient({ url: server.url });
  const ci = TufKey.fromJson(
    (await new DaemonClient({ url: daemon.url, token: setup.clientToken }).keys()).keys[0]!
      .publicKey,
    '/publicKey',
  );
  let repoCount = 0;

  /** A fresh repository delegating targets/ci to the daemon's key. */
  async function freshGun(): Promise<string> {
    const gun = `${BENCH_GUN_PREFIX}${process.pid}-${repoCount++}`;
    await initRepository({
      server: admin,
      gun,
      signing: localSigning({ rootSigner, targetsSigner }),
      delegations: [{ name: BENCH_ROLE, keyIds: [ci.id], threshold: 1, paths: [''] }],
      delegationKeys: [ci],
    });
    return gun;
  }

  /** One agent: its own clients; counts the signatures it asks for. */
  function agent(counter: { signs: number }): {
    signing: MetadataSigning;
    server: NotaryServerClient;
  } {
    const inner = daemonSigning({
      client: new DaemonClient({ url: daemon.url, token: setup.clientToken }),
    });
    return {
      server: new NotaryServerClient({ url: server.url }),
      signing: {
        ...inner,
        sign: (gun, role, signed, reqs) => {
          counter.signs++;
          return inner.sign(gun, role, signed, reqs);
        },
      },
    };
  }

  async function land(gun: string, n: number, concurrent: boolean) {
    const counter = { signs: 0 };
    const one = async (i: number) => {
      const a = agent(counter);
      try {
        const tag = `agent-${i}`;
        const digest = createHash('sha256').update(tag).digest();
        await updateTargets({
          server: a.server,
          gun,
          role: BENCH_ROLE,
          signing: a.signing,
          changes: { add: new Map([[tag, FileMeta.sha256(digest, tag.length)]]) },
          retries: 1000,
          timeoutMs: 600_000,
        });
      } finally {
        a.server.close();
      }
    };
    const t0 = performance.now();
    if (concurrent) await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
    else for (let i = 0; i < n; i++) await one(i);
    const ms = performance.now() - t0;
    const listed = new Set(listTargets(await readRepository(admin, gun)).map((t) => t.name));
    const missing = Array.from({ length: n }, (_, i) => `agent-${i}`).filter((t) => !listed.has(t));
    if (missing.length > 0) throw new Error(`${gun}: ${missing.length} tag(s) missing`);
    return { ms, signsPerTag: counter.signs / n };
  }

  const rows = [];
  try {
    for (const n of args.ns) {
      const seq: number[] = [];
      const con: number[] = [];
      const signs: number[] = [];
      for (let r = 0; r < args.rounds; r++) {
        seq.push((await land(await freshGun(), n, false)).ms);
        const c = await land(await freshGun(), n, true);
        con.push(c.ms);
        signs.push(c.signsPerTag);
      }
      const s = stats(seq);
      const c = stats(con);
      rows.push({
        n,
        sequentialMs: s,
        concurrentMs: c,
        ratio: c.median / s.median,
        signaturesPerTag: stats(signs).median,
      });
    }
  } finally {
    admin.close();
    await daemon.stop();
    await server.stop();
    await cleanUp();
  }
  const f = (x: { min: number; median: number; max: number }) =>
    `${x.min.toFixed(0)} / ${x.median.toFixed(0)} / ${x.max.toFixed(0)}`;
  console.log(
    `N concurrent signers into one delegation (${args.rounds} round(s); ms min / median / max)`,
  );
  console.log(
    'N     sequential ms         concurrent ms         concurrent/sequential  signatures per tag',
  );
  for (const r of rows) {
    console.log(
      `${String(r.n).padEnd(6)}${f(r.sequentialMs).padEnd(22)}${f(r.concurrentMs).padEnd(22)}` +
        `${r.ratio.toFixed(2).padEnd(23)}${r.signaturesPerTag.toFixed(2)}`,
    );
  }
  if (args.json) console.log(JSON.stringify({ bench: 'concurrent', rows }));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
