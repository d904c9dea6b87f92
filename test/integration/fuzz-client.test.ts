/**
 * Generative fuzzing of the Notary server client's handling of answers (fast-check,
 * seeded: FUZZ_SEED replays a run, FUZZ_CLIENT_RUNS changes the count). The test runs a
 * hostile loopback HTTP server of its own that answers each request as the generated plan
 * says: truncated (a Content-Length it never fills), oversized (a body streamed past the
 * client's bound), wrong content type, a slow drip that never ends, a redirect to a second
 * loopback server, an error status, garbage JSON or bytes, an empty answer or a reset.
 *
 * Invariants for NotaryServerClient and for `notary-hsm list` / `verify` (run in process):
 * every failure is a NotaryHsmError (the CLI: exit 1 with a `[CODE]`), nothing else is
 * thrown; a redirect is never followed (the second server is never reached); an oversized
 * body is refused with SERVER_RESPONSE_TOO_LARGE after at most its bound plus what the
 * sockets buffer; a drip ends in SERVER_TIMEOUT; `list` succeeds only when the file it
 * was given is the genuine one, and `verify` (its pin is no root key) never.
 *
 * The files are the reference capture, whose timestamp expired on 6 December 2026: the
 * CLI's clock (Date alone; timers and deadlines run as they do) is set to the capture's
 * time, so that its reads go past the timestamp as they did then.
 */
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { isNotaryHsmError } from '../../src/errors';
import { NotaryServerClient } from '../../src/notary';
import { fuzzRuns, fuzzSeed } from '../helpers/fuzz-seed';
import { runCli } from '../helpers/run-cli';
import { makeTempDir } from '../helpers/tmp';
import { REFERENCE_NOW, vector } from '../helpers/vectors';

const RUNS = fuzzRuns('FUZZ_CLIENT_RUNS', 200);
const GUN = 'localhost:5000/demo/app';
const MAX = 64 * 1024;
const TIMEOUT_MS = 400;

type Answer =
  | { kind: 'truncated'; missing: number }
  | { kind: 'oversized'; declared: boolean }
  | { kind: 'wrongType'; type: string }
  | { kind: 'drip' }
  | { kind: 'redirect'; status: number }
  | { kind: 'status'; status: number; body: string }
  | { kind: 'garbage'; json: unknown }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'empty' }
  | { kind: 'reset' }
  | { kind: 'reference' };

const arbAnswer: fc.Arbitrary<Answer> = fc.oneof(
  fc.record({
    kind: fc.constant('truncated' as const),
    missing: fc.integer({ min: 1, max: 5000 }),
  }),
  fc.record({ kind: fc.constant('oversized' as const), declared: fc.boolean() }),
  fc.record({
    kind: fc.constant('wrongType' as const),
    type: fc.constantFrom('text/html', 'application/octet-stream', 'image/png', ''),
  }),
  fc.record({ kind: fc.constant('drip' as const) }),
  fc.record({
    kind: fc.constant('redirect' as const),
    status: fc.constantFrom(301, 302, 303, 307, 308),
  }),
  fc.record({
    kind: fc.constant('status' as const),
    status: fc.constantFrom(400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504, 100 + 99),
    body: fc.oneof(fc.string({ maxLength: 200 }), fc.constant('{"errors":[{"code":"x"}]}')),
  }),
  fc.record({ kind: fc.constant('garbage' as const), json: fc.jsonValue({ maxDepth: 4 }) }),
  fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 2000 }) }),
  fc.record({ kind: fc.constant('empty' as const) }),
  fc.record({ kind: fc.constant('reset' as const) }),
  fc.record({ kind: fc.constant('reference' as const) }),
);

/** What one run does: the answer, to which request (the n-th of a command), through which caller. */
interface Plan {
  readonly answer: Answer;
  /** The request (counting from 0) that gets `answer`; earlier ones get the reference file. */
  readonly nth: number;
  readonly via: 'client' | 'list' | 'verify';
  readonly role: 'root' | 'timestamp' | 'snapshot' | 'targets';
}

const arbPlan: fc.Arbitrary<Plan> = fc.record({
  answer: arbAnswer,
  nth: fc.nat(4),
  via: fc.constantFrom('client' as const, 'list' as const, 'verify' as const),
  role: fc.constantFrom(
    'root' as const,
    'timestamp' as const,
    'snapshot' as const,
    'targets' as const,
  ),
});

describe('the Notary server client under hostile answers', () => {
  let hostile: Server;
  let elsewhere: Server;
  let base: string;
  let elsewhereHits = 0;
  let plan: Plan | undefined;
  let seen = 0;
  /** Bytes the hostile server wrote for the current oversized answer. */
  let written = 0;
  /** Whether the planned answer went out (and whether the real file existed for it). */
  let delivered: { hadReference: boolean } | undefined;
  /** Every request the hostile server has received. */
  let arrivals = 0;

  /**
   * Waits until no request has arrived for a while: a read a previous run started beside
   * one that failed (the timestamp beside the root) reaches the server before this run
   * starts counting, instead of taking this run's planned answer.
   */
  async function quiet(): Promise<void> {
    for (let last = -1; last !== arrivals;) {
      last = arrivals;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const open = new Set<ServerResponse>();

  /** The reference capture for a request path (`.../<role>.json`), or undefined. */
  function reference(url: string): Buffer | undefined {
    const m = /\/v2\/.+\/_trust\/tuf\/(?:\d+\.)?([a-z/]+?)(?:\.[0-9a-f]{64})?\.json$/.exec(url);
    if (!m?.[1]) return undefined;
    try {
      return vector('final', m[1]);
    } catch {
      return undefined;
    }
  }

  function answer(res: ServerResponse, a: Answer, ref: Buffer | undefined): void {
    const body = ref ?? Buffer.from('{}');
    switch (a.kind) {
      case 'reference':
        res.writeHead(ref ? 200 : 404, { 'Content-Type': 'application/json' }).end(body);
        return;
      case 'truncated':
        res.writeHead(200, { 'Content-Length': String(body.length + a.missing) });
        res.write(body);
        setImmediate(() => res.socket?.destroy());
        return;
      case 'oversized': {
        const chunk = Buffer.alloc(16 * 1024, 0x20);
        res.writeHead(200, a.declared ? { 'Content-Length': String(64 * 1024 * 1024) } : {});
        const pump = (): void => {
          while (!res.destroyed && written < 8 * 1024 * 1024) {
            written += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          if (!res.destroyed) res.end();
        };
        pump();
        return;
      }
      case 'wrongType':
        res.writeHead(200, { 'Content-Type': a.type }).end(body);
        return;
      case 'drip': {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{');
        const t = setInterval(() => {
          if (res.destroyed) clearInterval(t);
          else res.write(' ');
        }, 50);
        res.on('close', () => clearInterval(t));
        return;
      }
      case 'redirect': {
        const port = (elsewhere.address() as AddressInfo).port;
        res
          .writeHead(a.status, { Location: `http://127.0.0.1:${port}${res.req.url ?? '/'}` })
          .end();
        return;
      }
      case 'status':
        res.writeHead(a.status, { 'Content-Type': 'application/json' }).end(a.body);
        return;
      case 'garbage':
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(a.json));
        return;
      case 'bytes':
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(Buffer.from(a.bytes));
        return;
      case 'empty':
        res.writeHead(200).end();
        return;
      case 'reset':
        res.socket?.destroy();
        return;
    }
  }

  beforeAll(async () => {
    jest.useFakeTimers({
      now: REFERENCE_NOW,
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'requestAnimationFrame',
        'cancelAnimationFrame',
        'requestIdleCallback',
        'cancelIdleCallback',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
      ],
    });
    elsewhere = createServer((req, res) => {
      elsewhereHits++;
      const ref = reference(req.url ?? '');
      res.writeHead(ref ? 200 : 404, { 'Content-Type': 'application/json' }).end(ref ?? '{}');
    });
    hostile = createServer((req, res) => {
      arrivals++;
      open.add(res);
      res.on('close', () => open.delete(res));
      const n = seen++;
      const ref = reference(req.url ?? '');
      if (plan === undefined || n !== plan.nth) {
        answer(res, { kind: 'reference' }, ref);
      } else {
        delivered = { hadReference: ref !== undefined };
        answer(res, plan.answer, ref);
      }
    });
    for (const s of [hostile, elsewhere]) {
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
    }
    base = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    jest.useRealTimers();
    for (const r of open) r.socket?.destroy();
    await Promise.all([hostile, elsewhere].map((s) => new Promise((done) => s.close(done))));
  });

  async function run(p: Plan): Promise<void> {
    await quiet();
    plan = p;
    seen = 0;
    written = 0;
    elsewhereHits = 0;
    delivered = undefined;
    const where = JSON.stringify(p).slice(0, 300);
    if (p.via === 'client') {
      const client = new NotaryServerClient({ url: base, timeoutMs: TIMEOUT_MS });
      seen = p.nth; // the first request gets the planned answer
      let result: Buffer | undefined;
      try {
        result = await client.getCurrent(GUN, p.role, MAX);
      } catch (err) {
        if (!isNotaryHsmError(err)) throw new Error(`untyped failure ${String(err)}: ${where}`);
        if (p.answer.kind === 'oversized' && err.code !== 'SERVER_RESPONSE_TOO_LARGE') {
          throw new Error(`oversized answer failed with ${err.code}: ${where}`);
        }
        if (p.answer.kind === 'drip' && err.code !== 'SERVER_TIMEOUT') {
          throw new Error(`drip failed with ${err.code}: ${where}`);
        }
      }
      if (result !== undefined) {
        const ok = ['reference', 'wrongType', 'garbage', 'bytes', 'empty'];
        if (!ok.includes(p.answer.kind))
          throw new Error(`accepted a ${p.answer.kind} answer: ${where}`);
        if (result.length > MAX)
          throw new Error(`accepted ${result.length} bytes > ${MAX}: ${where}`);
      }
    } else {
      const trust = await makeTempDir('fuzz-client-trust-');
      const args =
        p.via === 'list'
          ? [
              'list',
              GUN,
              '--server',
              base,
              '--trust-dir',
              trust,
              '--timeout',
              String(TIMEOUT_MS / 1000),
            ]
          : [
              'verify',
              `${GUN}:v1`,
              '--server',
              base,
              '--trust-dir',
              trust,
              '--pin-root',
              'a'.repeat(64),
              '--timeout',
              String(TIMEOUT_MS / 1000),
            ];
      const r = await runCli(args);
      // Success only when the planned answer carried the genuine file (or never went out,
      // or stood in for a file the server does not have): verify's pin is no root key.
      const d = delivered as { hadReference: boolean } | undefined; // set by the server
      const harmless =
        d === undefined ||
        !d.hadReference ||
        p.answer.kind === 'reference' ||
        p.answer.kind === 'wrongType';
      if (r.code === 0 && (p.via === 'verify' || !harmless)) {
        throw new Error(`${p.via} succeeded against the hostile server: ${where}`);
      }
      if (r.code === 0) return;
      if (r.errorCode === undefined) {
        throw new Error(
          `${p.via} failed without a code (${r.code}): ${r.err.slice(0, 300)}: ${where}`,
        );
      }
    }
    if (elsewhereHits !== 0) throw new Error(`a redirect was followed: ${where}`);
    // Oversized: the client stopped reading near its bound (what sockets buffer aside).
    // (The CLI's bounds are Notary's, up to 100 MiB for a root: 8 MiB may be read whole.)
    if (p.via === 'client' && p.answer.kind === 'oversized' && written >= 8 * 1024 * 1024) {
      throw new Error(`the client read the whole 8 MiB oversized answer: ${where}`);
    }
    for (const r of open) r.socket?.destroy();
  }

  it('list --timeout holds for every file it reads (found by this fuzzer: unpinned reads waited 30 s)', async () => {
    // The 4th request (targets by hash, after root and timestamp side by side and the
    // snapshot) drips forever; its deadline must be --timeout's.
    await quiet();
    plan = { answer: { kind: 'drip' }, nth: 3, via: 'list', role: 'targets' };
    seen = 0;
    const trust = await makeTempDir('fuzz-client-trust-');
    const r = await runCli([
      'list',
      GUN,
      '--server',
      base,
      '--trust-dir',
      trust,
      '--timeout',
      '0.4',
    ]);
    for (const res of open) res.socket?.destroy();
    expect(r.errorCode).toBe('SERVER_TIMEOUT');
    expect(r.err).toMatch(/within 400 ms .*targets\.[0-9a-f]{64}\.json/);
  });

  it(`${RUNS} hostile answers: typed errors, no redirect followed, bounded reads`, async () => {
    const seed = fuzzSeed('fuzz-client', 1574493216);
    const rssBefore = process.memoryUsage().rss;
    // Bounded time: a run that has not settled in 20 s is a hang (the deadline is 0.4 s).
    const bounded = async (p: Plan): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      const hang = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no end in 20 s: ${JSON.stringify(p)}`)), 20_000);
      });
      try {
        await Promise.race([run(p), hang]);
      } finally {
        clearTimeout(timer);
      }
    };
    await fc.assert(fc.asyncProperty(arbPlan, bounded), {
      seed,
      numRuns: RUNS,
      endOnFailure: true,
    });
    const grownMiB = Math.round((process.memoryUsage().rss - rssBefore) / (1024 * 1024));
    process.stderr.write(
      `fuzz-client: ${JSON.stringify({ seed, runs: RUNS, rssGrownMiB: grownMiB })}\n`,
    );
  }, 240_000);
});
