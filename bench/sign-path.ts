/**
 * In-process costs of two pieces of the daemon's signing path, each against what it
 * replaced, alternating in one run (bench/README.md, bench/peer, *Tried and measured*):
 *
 * - verification of token signatures: one libuv thread-pool job each (crypto.verify with
 *   a callback), the batch verifier (src/pkcs11/batch-verify.ts: one message to one
 *   thread a batch), and everything on the main thread; CPU of the whole process and of
 *   its main thread (from /proc, Linux) per verification, batches arriving as a module
 *   host's reply brings them;
 * - a batch of signature requests and signatures serialised and parsed as the module
 *   host's IPC channel does (v8.serialize / deserialize), as objects or as frames
 *   (src/pkcs11/host/sign-frames.ts); CPU per request or reply.
 *
 * node dist/bench/bench/sign-path.js [--batch 10] [--count 20000] [--reps 3]
 */
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { BatchVerifier } from '../src/pkcs11/batch-verify';
import type { HostMessage } from '../src/pkcs11/host/protocol';
import {
  packSignatures,
  packSignRequests,
  unpackRequests,
  unpackSignatures,
  type WireMessage,
} from '../src/pkcs11/host/sign-frames';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} wants a positive integer`);
  return v;
}

/** CPU time of this process's main thread in µs (clock ticks of 10 ms), 0 off Linux. */
function mainThreadUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return 0;
  }
}

function cpuUs(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

async function verification(batch: number, count: number, reps: number): Promise<void> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const messages = Array.from({ length: 200 }, (_, i) =>
    Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(1500) })),
  );
  const sigs = messages.map((m) =>
    sign('sha256', m, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  );
  const verifier = new BatchVerifier();
  const key = verifier.key(spki);
  const modes: Record<string, (m: Buffer, s: Buffer) => Promise<boolean>> = {
    'thread-pool job each': (m, s) =>
      new Promise((resolve) => {
        verify('sha256', m, { key: publicKey, dsaEncoding: 'ieee-p1363' }, s, (err, ok) =>
          resolve(err === null && ok),
        );
      }),
    'batch verifier': (m, s) => verifier.verify(key, m, s),
    'main thread': (m, s) =>
      Promise.resolve(verify('sha256', m, { key: publicKey, dsaEncoding: 'ieee-p1363' }, s)),
  };
  const results = new Map<string, { all: number[]; main: number[] }>();
  for (let rep = 0; rep < reps; rep++) {
    const names = Object.keys(modes);
    for (const name of rep % 2 === 0 ? names : names.reverse()) {
      const f = modes[name] as (m: Buffer, s: Buffer) => Promise<boolean>;
      const cpu0 = cpuUs();
      const main0 = mainThreadUs();
      for (let done = 0; done < count; done += batch) {
        // A batch resolved in one turn, as a module host's reply resolves its signatures.
        await new Promise((r) => setImmediate(r));
        const oks = await Promise.all(
          Array.from({ length: batch }, (_, j) =>
            f(messages[(done + j) % 200] as Buffer, sigs[(done + j) % 200] as Buffer),
          ),
        );
        if (oks.includes(false)) throw new Error(`${name}: a valid signature did not verify`);
      }
      const r = results.get(name) ?? { all: [], main: [] };
      r.all.push((cpuUs() - cpu0) / count);
      r.main.push((mainThreadUs() - main0) / count);
      results.set(name, r);
    }
  }
  await verifier.close();
  console.log(`verification, batches of ${batch}, ${count} a mode, ${reps} repetitions (medians)`);
  for (const [name, r] of results) {
    console.log(
      `  ${name.padEnd(22)} ${median(r.all).toFixed(1).padStart(6)} µs of CPU a verification, ` +
        `${median(r.main).toFixed(1).padStart(5)} on the main thread`,
    );
  }
}

function serialisation(batch: number, reps: number): void {
  const requests: HostMessage[] = Array.from({ length: batch }, (_, i) => ({
    id: 1000 + i,
    req: { op: 'sign', token: 'soft', key: { label: 'ci', id: '03' }, digest: randomBytes(32) },
    deadline: 123_456_789.123 + i,
  }));
  const replies = requests.map((m) => ({ id: m.id, ok: true, value: randomBytes(64) }));
  const signatures = replies.map((r) => ({ id: r.id, sig: r.value }));
  const loops = 20_000;
  const perItem = (f: () => void): number => {
    for (let i = 0; i < 2_000; i++) f();
    const t0 = cpuUs();
    for (let i = 0; i < loops; i++) f();
    return (cpuUs() - t0) / loops / batch;
  };
  const cases: Record<string, () => void> = {
    'requests as objects': () => {
      deserialize(serialize(requests));
    },
    'requests as a frame': () =>
      unpackRequests(deserialize(serialize([packSignRequests(requests)])) as WireMessage[]),
    'replies as objects': () => {
      for (const r of deserialize(serialize(replies)) as { value: Uint8Array }[]) void r.value;
    },
    'replies as a frame': () => {
      for (const f of deserialize(serialize([packSignatures(signatures)])) as Uint8Array[]) {
        unpackSignatures(f, () => undefined);
      }
    },
  };
  const results = new Map<string, number[]>();
  for (let rep = 0; rep < reps; rep++) {
    for (const [name, f] of Object.entries(cases)) {
      results.set(name, [...(results.get(name) ?? []), perItem(f)]);
    }
  }
  console.log(`module host IPC, batches of ${batch}, serialised and parsed (medians)`);
  for (const [name, xs] of results) {
    console.log(`  ${name.padEnd(22)} ${median(xs).toFixed(2).padStart(6)} µs a request or reply`);
  }
}

async function main(): Promise<void> {
  const batch = option('batch', 10);
  const count = option('count', 20_000);
  const reps = option('reps', 3);
  await verification(batch, count, reps);
  serialisation(batch, Math.max(reps, 5));
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench/sign-path failed: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exitCode = 1;
});
