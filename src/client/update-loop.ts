/**
 * The one fetch → verify → change → sign → publish loop every mutating command shares,
 * with optimistic concurrency against the Notary server (the arbiter of what is
 * published) and the daemon's anti-rollback state.
 *
 * Invariants:
 * - Each attempt starts from trust data fetched and verified in that attempt, and the
 *   command's change is re-applied on top of it: another writer's tags are never
 *   overwritten with an older view.
 * - A role's next version is the server's version + 1. The Notary server stores a version
 *   only when it is above every stored one, so of several writers that fetched the same
 *   state exactly one wins and the others refetch: no update is lost.
 * - The daemon hands out each version once. When it refuses a version as already handed
 *   out (VERSION_ROLLBACK), the version above the server's is either being published by
 *   another writer (wait and refetch) or abandoned: ours after our publish failed, or one
 *   older than the daemon's publish lease. Only then does the loop sign past it. A writer
 *   publishes its signatures only within the first third of that lease, so a version
 *   counted as abandoned can no longer land after ours.
 * - A publish that failed on the way (5xx, timeout, reset) is retried with the same
 *   bytes (a publish is idempotent for the same bytes); after a refetch, a repository
 *   that already holds exactly what we sent counts as published.
 * - Every wait is bounded: a number of attempts and an overall deadline, with jittered
 *   exponential backoff between attempts that found contention.
 */
import { NotaryHsmError, isNotaryHsmError } from '../errors';
import type { SignedMetadata } from '../metadata/signed';
import { readAfterPublish, readRepository, type TrustedRepository } from './reader';
import type { TrustServer } from './trust-server';

/** Bounds of the loop. */
export interface RetryOptions {
  /** Attempts after the first (default 25). */
  retries?: number;
  /** Overall deadline in milliseconds (default 120 s). */
  timeoutMs?: number;
  /** First backoff in ms (default 25); doubles up to maxDelayMs (default 1 s), full jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export const DEFAULT_RETRIES = 25;
export const DEFAULT_TIMEOUT_MS = 120_000;
/** Used when the daemon says nothing about its lease (local signing). */
const DEFAULT_LEASE_MS = 30_000;

/** What a change sees in one attempt. */
export interface Attempt {
  readonly repo: TrustedRepository;
  /** 0 for the first attempt. */
  readonly number: number;
  /** The version to sign `role` at: above the server's, and past versions known abandoned. */
  version(role: string, current: number | undefined): number;
  /**
   * Tells the loop a file was signed, as soon as it was: if the attempt fails before it is
   * published, its version is ours to sign past (nobody else holds it).
   */
  signed(file: SignedMetadata): void;
}

/** The files one attempt publishes (signed), and the lease their signatures came with. */
export interface ChangeResult {
  readonly files: readonly SignedMetadata[];
  readonly leaseMs?: number;
}

export interface UpdateLoopOptions extends RetryOptions {
  server: TrustServer;
  gun: string;
  /** Builds and signs the next files from a verified repository; called once per attempt. */
  change(attempt: Attempt): Promise<ChangeResult>;
  now?: () => Date;
  /** Monotonic milliseconds (tests). */
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /**
   * Targets roles the change will rewrite: their current files are fetched beside the
   * chain above them (ReadOptions.early), so a large one is parsed while the rest arrives.
   */
  early?: readonly string[];
  /** Fetches and verifies the repository (tests); readRepository by default. */
  read?: (server: TrustServer, gun: string, now: Date) => Promise<TrustedRepository>;
  /** Told what the loop is doing now (the CLI shows it on a terminal). */
  progress?: (step: string) => void;
}

/** What failed, and whether another attempt may help. */
type Verdict = { kind: 'retry'; backoff: boolean } | { kind: 'fail'; error: unknown };

const SERVER_TRANSIENT = ['SERVER_ERROR', 'SERVER_UNREACHABLE', 'SERVER_TIMEOUT'] as const;

function isTransient(err: unknown): boolean {
  return isNotaryHsmError(err, ...SERVER_TRANSIENT, 'TOKEN_BUSY', 'DAEMON_UNREACHABLE');
}

function numberOr(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/**
 * Runs `change` until its files are published and confirmed, within the bounds.
 * throws: UPDATE_GAVE_UP (bounds reached; the message says what kept failing), or the
 * first error no retry can help (a server validation error, a refusal, a bad repository)
 */
/** The repository after the change, and the files of the change as published. */
export interface UpdateResult {
  readonly repo: TrustedRepository;
  readonly published: readonly SignedMetadata[];
}

export async function runUpdateLoop(opts: UpdateLoopOptions): Promise<UpdateResult> {
  const { server, gun } = opts;
  // Monotonic ms from the process clock (the global `performance` loads perf_hooks first).
  const clock = opts.clock ?? (() => process.uptime() * 1000);
  const sleep = opts.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = opts.random ?? Math.random;
  const now = opts.now ?? (() => new Date());
  const retries = opts.retries ?? DEFAULT_RETRIES;
  const deadline = clock() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const base = opts.baseDelayMs ?? 25;
  const maxDelay = opts.maxDelayMs ?? 1000;
  const early = opts.early ?? [];
  const read = opts.read ?? ((s, g, n) => readRepository(s, g, { now: n, early }));
  // After a publish, the new snapshot alone tells whether the server holds our files.
  const after = opts.read
    ? undefined
    : (s: TrustServer, before: TrustedRepository, files: readonly SignedMetadata[], n: Date) =>
        readAfterPublish(s, before, files, n);
  // Every request of an attempt ends by the overall deadline: a hung server cannot hang us.
  const bounded = withDeadline(server, () => deadline - clock());

  /** Per role: the highest version known handed out and abandoned (we may sign past it). */
  const floors = new Map<string, number>();
  /** Per role: versions this loop itself was given and will never publish again. */
  const mine = new Map<string, Set<number>>();
  /** Files we sent whose fate is unknown (a publish that failed on the way). */
  let unconfirmed: readonly SignedMetadata[] = [];
  let lastError: unknown;
  let contention = 0;

  const remaining = (): number => deadline - clock();
  const abandon = (files: readonly SignedMetadata[]): void => {
    for (const f of files) {
      const set = mine.get(f.role) ?? new Set<number>();
      set.add(f.signed.version);
      mine.set(f.role, set);
    }
  };

  // A try that lost to another writer landing (its version held, or stored first) is not a
  // failure and does not use up `retries`; the deadline bounds those waits, and a hard cap
  // bounds the number of attempts whatever happens.
  let failures = 0;
  const cap = (retries + 1) * 20;
  for (let attempt = 0; failures <= retries && attempt < cap && remaining() > 0; attempt++) {
    let files: readonly SignedMetadata[] = [];
    const signedHere: SignedMetadata[] = [];
    try {
      opts.progress?.(
        `${gun}: fetching and verifying trust data${attempt > 0 ? ` (attempt ${attempt + 1})` : ''}`,
      );
      const repo = await read(bounded, gun, now());
      if (unconfirmed.length > 0 && holdsExactly(repo, unconfirmed)) {
        return { repo, published: unconfirmed };
      }
      if (unconfirmed.length > 0) {
        // They did not get through (or were superseded): past them, whatever happens.
        for (const f of unconfirmed) {
          floors.set(f.role, Math.max(floors.get(f.role) ?? 0, f.signed.version));
        }
        unconfirmed = [];
      }
      const result = await opts.change({
        repo,
        number: attempt,
        version: (role, current) => Math.max(current ?? 0, floors.get(role) ?? 0) + 1,
        signed: (file) => {
          signedHere.push(file);
        },
      });
      files = result.files;
      const signedAt = clock();
      const window = Math.max(1, (result.leaseMs ?? DEFAULT_LEASE_MS) / 3);
      unconfirmed = files;
      abandon(files); // if this attempt does not end the loop, we never publish them again
      opts.progress?.(`${gun}: publishing ${files.map((f) => f.role).join(', ')}`);
      const published = await publishWithin(bounded, gun, files, {
        until: Math.min(signedAt + window, deadline),
        clock,
        sleep,
      });
      if (!published) {
        lastError = new NotaryHsmError(
          'SERVER_TIMEOUT',
          `the publish did not get through within ${Math.round(window)} ms of signing`,
        );
        failures++;
        continue;
      }
      opts.progress?.(`${gun}: confirming the publish`);
      const fast = after ? await after(bounded, repo, files, now()) : undefined;
      return {
        repo: fast ?? (await confirm(bounded, gun, files, now(), read)),
        published: files,
      };
    } catch (err) {
      lastError = err;
      // Signed in this attempt and never to be published: ours to sign past.
      abandon(signedHere);
      for (const f of signedHere) {
        if (!unconfirmed.includes(f)) {
          floors.set(f.role, Math.max(floors.get(f.role) ?? 0, f.signed.version));
        }
      }
      const verdict = classify(err, floors, mine);
      if (verdict.kind === 'fail') throw verdict.error;
      const lostRace =
        isNotaryHsmError(err, 'SERVER_VERSION_CONFLICT') ||
        (isNotaryHsmError(err, 'VERSION_ROLLBACK') && verdict.backoff);
      if (!lostRace) failures++;
      if (verdict.backoff) {
        contention++;
        const ceiling = Math.min(maxDelay, base * 2 ** Math.min(contention, 16));
        await sleep(Math.min(Math.max(0, remaining()), Math.floor(random() * ceiling)));
      }
    }
  }
  throw gaveUp(
    gun,
    retries,
    opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    lastError,
    unconfirmed.length > 0,
  );
}

/**
 * `server` with every request's timeout cut to what is left until the deadline.
 * throws (from the calls): SERVER_TIMEOUT once no time is left
 */
function withDeadline(server: TrustServer, left: () => number): TrustServer {
  const timeoutMs = (): number => {
    const ms = Math.ceil(left());
    if (ms <= 0) throw new NotaryHsmError('SERVER_TIMEOUT', 'no time left before --timeout');
    return ms;
  };
  return {
    getCurrent: (gun, role, maxBytes) =>
      server.getCurrent(gun, role, maxBytes, { timeoutMs: timeoutMs() }),
    getByHash: (gun, role, sha, maxBytes) =>
      server.getByHash(gun, role, sha, maxBytes, { timeoutMs: timeoutMs() }),
    getServerKey: (gun, role) => server.getServerKey(gun, role),
    publish: (gun, files, o) =>
      server.publish(gun, files, { timeoutMs: Math.min(o?.timeoutMs ?? Infinity, timeoutMs()) }),
  };
}

/** Decides what an attempt's failure means for the next one. */
function classify(
  err: unknown,
  floors: Map<string, number>,
  mine: ReadonlyMap<string, ReadonlySet<number>>,
): Verdict {
  if (isNotaryHsmError(err, 'VERSION_ROLLBACK')) {
    const d = err.details;
    const role = typeof d.role === 'string' ? d.role : undefined;
    const last = d.lastVersion;
    if (role === undefined || typeof last !== 'number') return { kind: 'fail', error: err };
    const age = numberOr(d.lastSignedAgeMs, Number.POSITIVE_INFINITY);
    const lease = numberOr(d.leaseMs, DEFAULT_LEASE_MS);
    if (mine.get(role)?.has(last) === true || age >= lease) {
      floors.set(role, Math.max(floors.get(role) ?? 0, last));
      return { kind: 'retry', backoff: false };
    }
    // Another writer holds that version and may be publishing it: let it, then refetch.
    return { kind: 'retry', backoff: true };
  }
  if (isNotaryHsmError(err, 'SERVER_VERSION_CONFLICT')) return { kind: 'retry', backoff: true };
  if (isTransient(err)) return { kind: 'retry', backoff: true };
  return { kind: 'fail', error: err };
}

/** True when the repository holds exactly these files (our earlier publish got through). */
function holdsExactly(repo: TrustedRepository, files: readonly SignedMetadata[]): boolean {
  return files.every((f) => {
    const stored = f.role === 'root' ? repo.root : repo.targets.get(f.role);
    return stored?.bytes.equals(f.bytes) === true;
  });
}

/**
 * Publishes `files`, retrying transient failures with the same bytes until `until`.
 * Resolves true once the server took them, false when the window closed first.
 * throws: what no retry can help (validation errors, SERVER_VERSION_CONFLICT)
 */
async function publishWithin(
  server: TrustServer,
  gun: string,
  files: readonly SignedMetadata[],
  o: { until: number; clock: () => number; sleep: (ms: number) => Promise<void> },
): Promise<boolean> {
  const body = files.map((f) => ({ role: f.role, bytes: f.bytes }));
  for (let i = 0; ; i++) {
    const left = o.until - o.clock();
    if (left <= 0) return false;
    try {
      await server.publish(gun, body, { timeoutMs: Math.ceil(left) });
      return true;
    } catch (err) {
      if (!isNotaryHsmError(err, ...SERVER_TRANSIENT)) throw explainServerRefusal(gun, err);
      await o.sleep(Math.min(Math.max(0, o.until - o.clock()), 20 * 2 ** Math.min(i, 6)));
    }
  }
}

/** The server's refusal, with what to do about the one a user can fix. */
export function explainServerRefusal(gun: string, err: unknown): unknown {
  if (
    isNotaryHsmError(err, 'SERVER_INVALID_UPDATE') &&
    /does not hold current snapshot key/.test(err.message)
  ) {
    return new NotaryHsmError(
      'SERVER_INVALID_UPDATE',
      `${gun}: the snapshot key is held by a client, not the server; hand it to the server first ` +
        `(notary key rotate ${gun} snapshot -r)`,
      { cause: err },
    );
  }
  return err;
}

/**
 * Reads the repository back: each published role must now be our file, or a later version
 * (another writer published after us, starting from ours). A refetch that fails on the way
 * is retried by the caller's loop through `unconfirmed`; here it just propagates.
 * throws: SERVER_BAD_RESPONSE (the server holds another file at our version)
 */
export async function confirm(
  server: TrustServer,
  gun: string,
  files: readonly SignedMetadata[],
  now: Date,
  read: (server: TrustServer, gun: string, now: Date) => Promise<TrustedRepository> = (s, g, n) =>
    readRepository(s, g, { now: n }),
): Promise<TrustedRepository> {
  const repo = await read(server, gun, now);
  for (const f of files) {
    const stored = f.role === 'root' ? repo.root : repo.targets.get(f.role);
    const same = stored?.bytes.equals(f.bytes) === true;
    if (!same && !(stored !== undefined && stored.signed.version > f.signed.version)) {
      throw new NotaryHsmError(
        'SERVER_BAD_RESPONSE',
        `${gun}: the server's ${f.role} is not the file just published (a byte mismatch?)`,
        { details: { role: f.role } },
      );
    }
  }
  return repo;
}

function gaveUp(
  gun: string,
  retries: number,
  timeoutMs: number,
  last: unknown,
  maybePublished: boolean,
): NotaryHsmError {
  const why = last instanceof Error ? last.message : 'no attempt finished';
  const code = isNotaryHsmError(last) ? ` [${last.code}]` : '';
  const fate = maybePublished
    ? 'The last publish may have reached the server without an answer: `list` shows whether it did.'
    : 'Nothing of this change was published.';
  return new NotaryHsmError(
    'UPDATE_GAVE_UP',
    `${gun}: gave up after ${retries + 1} attempts or ${Math.round(timeoutMs / 1000)} s; ` +
      `the last failure was: ${why}${code}. ${fate} Run the command again ` +
      `(raise --retries or --timeout if many writers share this role).`,
    { cause: last, details: { gun } },
  );
}
