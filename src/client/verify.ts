/**
 * Verification with pinned roots: the root from a pin or from the trust cache's chain
 * (root-trust.ts), then the whole chain timestamp → snapshot → targets → delegations with
 * hashes, lengths, thresholds and expiry (reader.ts, an expired timestamp or snapshot
 * being a freeze), then no role older than the trust cache has seen (a rollback). Only
 * then is the cache advanced. Failures keep the reader's codes, with a threshold failure
 * told apart (a key the role does not list, a signature that does not verify) and an
 * answer that never ends told from an unreachable server.
 */
import type { TrustedRepository } from './reader';
import { readRepository } from './reader';
import type { RootPin } from './pins';
import { establishRoot, type TrustedRoot } from './root-trust';
import { checkRollback, type CachedTrust, type TrustCache } from './trust-cache';
import { WatchedServer, type VerifySource } from './watched-server';

export interface PinnedVerifyOptions {
  readonly pins: readonly RootPin[];
  /** The trust cache; without one, every run starts from the pins alone. */
  readonly cache?: TrustCache;
  readonly now?: Date;
  /** Deadline of each request in milliseconds. */
  readonly timeoutMs?: number;
}

/** A repository verified from a pinned (or cached) root. */
export interface PinnedRepository extends TrustedRepository {
  readonly trust: TrustedRoot;
  /** What the cache held before this run (undefined on a first, pinned run). */
  readonly previous?: CachedTrust;
}

/** The version of every role in `repo`. */
export function versionsOf(repo: TrustedRepository): Map<string, number> {
  const seen = new Map<string, number>([
    ['root', repo.root.signed.version],
    ['timestamp', repo.timestamp.signed.version],
    ['snapshot', repo.snapshot.signed.version],
  ]);
  for (const [role, file] of repo.targets) seen.set(role, file.signed.version);
  return seen;
}

/**
 * Verifies `gun` from a pinned root or the cached chain, refuses rollback and freeze,
 * and records what it saw in the cache.
 * throws: ROOT_NOT_PINNED, ROOT_PIN_MISMATCH, ROOT_CHAIN_INVALID, ROLLBACK_DETECTED,
 * METADATA_EXPIRED, KEY_NOT_TRUSTED, SIGNATURE_INVALID, THRESHOLD_NOT_MET,
 * CERTIFICATE_INVALID, HASH_MISMATCH, LENGTH_MISMATCH, ROLE_MISSING, TRUST_CACHE_INVALID,
 * SERVER_TIMEOUT, SERVER_*, JSON_*, FIELD_*
 */
export async function verifyPinned(
  server: VerifySource,
  gun: string,
  opts: PinnedVerifyOptions,
): Promise<PinnedRepository> {
  const now = opts.now ?? new Date();
  const cached = opts.cache?.load(gun);
  const watched = new WatchedServer(server, opts.timeoutMs);
  const trust = await establishRoot(watched, gun, {
    pins: opts.pins,
    now,
    ...(cached ? { cached } : {}),
  });
  let repo: TrustedRepository;
  try {
    repo = await readRepository(watched, gun, { now, root: trust.root });
  } catch (err) {
    throw watched.explain(err);
  }
  const seen = versionsOf(repo);
  checkRollback(gun, cached, seen);
  opts.cache?.save({
    gun,
    root: trust.root.bytes,
    rootVersion: trust.root.signed.version,
    versions: seen,
    rootKeyIds: trust.rootKeyIds,
  });
  return { ...repo, trust, ...(cached ? { previous: cached } : {}) };
}
