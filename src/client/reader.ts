/**
 * Fetches a repository and verifies its chain as the Notary client does: root (its own
 * threshold, over root certificates whose CN matches the GUN), then timestamp →
 * snapshot → targets → delegations, each file pinned by length and hashes from its
 * parent, signed by its parent's threshold, and not expired. Top-level failures are
 * fatal; an expired or under-signed delegation is skipped with a warning, as Notary does.
 *
 * This module decides what is trustworthy given a root; which root to start from is the
 * caller's choice (`list` trusts the root it fetched; pinned verification supplies its own).
 */
import { NotaryHsmError } from '../errors';
import { canonicalJson } from '../metadata/canonical';
import { checkRootKey } from '../metadata/certificate';
import type { Root } from '../metadata/root';
import type { BaseRole } from '../metadata/roles';
import { parseMetadata, type RoleModel, type SignedMetadata } from '../metadata/signed';
import type { Snapshot, Timestamp } from '../metadata/snapshot';
import { Targets, type DelegatedRole } from '../metadata/targets';
import { verifyThreshold, type Requirement } from '../metadata/verify';
import { FROM_SERVER, RoleFiles, fetchPinned, pinsExactly } from './role-files';
import { MAX_TIMESTAMP_BYTES, MAX_UNKNOWN_BYTES, type TrustServer } from './trust-server';

/** A repository whose every file has been verified. */
export interface TrustedRepository {
  readonly gun: string;
  readonly root: SignedMetadata<Root>;
  readonly timestamp: SignedMetadata<Timestamp>;
  readonly snapshot: SignedMetadata<Snapshot>;
  /** `targets` and every delegation that verified, in download (pre-order) order. */
  readonly targets: ReadonlyMap<string, SignedMetadata<Targets>>;
  /** Delegations that were skipped, and why. */
  readonly warnings: readonly string[];
}

export interface ReadOptions {
  now?: Date;
  /**
   * Targets roles whose current file is fetched and parsed at once, beside the chain
   * above it (the roles an update is about to change): used only if it is exactly the
   * file the snapshot then pins (role-files.ts). Given (an update's read), the current
   * snapshot is asked for beside the timestamp in the same way.
   */
  early?: readonly string[];
}

/** Top-level files already asked for: the timestamp, and a guess at the current snapshot. */
interface Prefetched {
  timestamp?: Promise<Buffer>;
  snapshot?: Promise<Buffer | undefined>;
}

function expiryCheck(file: SignedMetadata<RoleModel>, now: Date): void {
  if (file.signed.expires.isBefore(now)) {
    throw new NotaryHsmError(
      'METADATA_EXPIRED',
      `${file.role} expired at ${file.signed.expires.toString()}`,
      {
        details: { role: file.role, expires: file.signed.expires.toString() },
      },
    );
  }
}

/** The requirement for a base role from root; root keys only count if their certificate is valid for the GUN. */
export function baseRequirement(root: Root, role: BaseRole, gun: string, now: Date): Requirement {
  let keys = root.roleKeys(role);
  if (role === 'root') {
    const problems: string[] = [];
    keys = keys.filter((k) => {
      try {
        checkRootKey(k, gun, now);
        return true;
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
        return false;
      }
    });
    if (keys.length === 0) {
      throw new NotaryHsmError(
        'CERTIFICATE_INVALID',
        `no valid root certificate for ${gun}: ${problems.join('; ')}`,
        {
          details: { gun },
        },
      );
    }
  }
  return { role, keys, threshold: root.role(role).threshold };
}

/**
 * Verifies a root on its own: valid certificates for `gun`, its own threshold, not expired.
 * throws: CERTIFICATE_INVALID, THRESHOLD_NOT_MET, METADATA_EXPIRED
 */
export function verifyRoot(root: SignedMetadata<Root>, gun: string, now: Date): void {
  verifyThreshold(root.message, root.signatures, baseRequirement(root.signed, 'root', gun, now));
  expiryCheck(root, now);
}

function verifyBase(
  file: SignedMetadata<RoleModel>,
  root: Root,
  role: BaseRole,
  gun: string,
  now: Date,
): void {
  verifyThreshold(file.message, file.signatures, baseRequirement(root, role, gun, now));
  expiryCheck(file, now);
}

/**
 * The timestamp and the snapshot it pins, verified under `root` (itself verified), and
 * root checked against the snapshot's pin.
 * throws: SERVER_*, JSON_*, FIELD_*, THRESHOLD_NOT_MET, METADATA_EXPIRED, HASH_MISMATCH,
 * LENGTH_MISMATCH, ROLE_MISSING
 */
async function readTop(
  server: TrustServer,
  gun: string,
  root: SignedMetadata<Root>,
  now: Date,
  fetched?: Prefetched,
): Promise<{ timestamp: SignedMetadata<Timestamp>; snapshot: SignedMetadata<Snapshot> }> {
  const timestamp = parseMetadata(
    'timestamp',
    await (fetched?.timestamp ?? fetchTimestamp(server, gun)),
    FROM_SERVER,
  );
  verifyBase(timestamp, root.signed, 'timestamp', gun, now);
  const pin = timestamp.signed.snapshotMeta;
  const guessed = await fetched?.snapshot;
  const snapshot = parseMetadata(
    'snapshot',
    guessed !== undefined && pin !== undefined && pinsExactly(pin, guessed)
      ? guessed
      : await fetchPinned(server, gun, 'snapshot', pin),
    FROM_SERVER,
  );
  verifyBase(snapshot, root.signed, 'snapshot', gun, now);
  snapshot.signed.meta.get('root')?.check(root.bytes, 'root');
  return { timestamp, snapshot };
}

function fetchTimestamp(server: TrustServer, gun: string): Promise<Buffer> {
  return server.getCurrent(gun, 'timestamp', MAX_TIMESTAMP_BYTES);
}

/**
 * The current snapshot asked for by name, beside the timestamp that pins it (an update's
 * reads): used only if it is exactly the pinned file, else fetched by its hash as usual.
 */
function guessSnapshot(server: TrustServer, gun: string): Promise<Buffer | undefined> {
  return server.getCurrent(gun, 'snapshot', MAX_UNKNOWN_BYTES).catch(() => undefined);
}

/**
 * The repository after `files` (targets roles, signed by us) were published over
 * `before`, read from the new timestamp and snapshot alone: when the snapshot pins exactly
 * our files for their roles and the very files `before` held for every other role, the
 * repository is `before` with our files in place, and nothing else needs downloading.
 * Undefined when anything else changed (another writer, a root change): read it whole.
 * throws: as readTop
 */
export async function readAfterPublish(
  server: TrustServer,
  before: TrustedRepository,
  files: readonly SignedMetadata[],
  now: Date,
): Promise<TrustedRepository | undefined> {
  const ours = new Map(files.map((f) => [f.role, f]));
  for (const [role, file] of ours) {
    const was = before.targets.get(role)?.signed;
    // A new role, or changed delegations, can change what else is trusted: read it whole.
    if (!was || !(file.signed instanceof Targets) || !sameDelegations(was, file.signed)) {
      return undefined;
    }
  }
  const { timestamp, snapshot } = await readTop(server, before.gun, before.root, now, {
    snapshot: guessSnapshot(server, before.gun),
  });
  const pins = snapshot.signed.meta;
  const previous = before.snapshot.signed.meta;
  if (pins.size !== previous.size) return undefined;
  for (const [role, pin] of pins) {
    const mine = ours.get(role);
    if (mine) {
      if (!pinsExactly(pin, mine.bytes)) return undefined;
    } else if (!previous.get(role)?.equals(pin)) {
      return undefined;
    }
  }
  const targets = new Map(
    [...before.targets].map(([role, file]) => [role, (ours.get(role) as typeof file) ?? file]),
  );
  return { ...before, timestamp, snapshot, targets };
}

function sameDelegations(a: Targets, b: Targets): boolean {
  return canonicalJson(a.delegationsJson()) === canonicalJson(b.delegationsJson());
}

/**
 * Fetches and verifies `gun` starting from `root` (already verified by the caller), or
 * from the server's current root when none is given. A file that does not parse is
 * named in the error ("targets/ci.json (role targets/ci) from the server: /signed/…").
 * throws: SERVER_*, JSON_*, FIELD_*, CERTIFICATE_INVALID, THRESHOLD_NOT_MET,
 * METADATA_EXPIRED, HASH_MISMATCH, LENGTH_MISMATCH, ROLE_MISSING
 */
export async function readRepository(
  server: TrustServer,
  gun: string,
  opts: ReadOptions & { root?: SignedMetadata<Root> } = {},
): Promise<TrustedRepository> {
  const now = opts.now ?? new Date();
  const files = new RoleFiles(server, gun);
  for (const role of opts.early ?? []) files.guess(role);
  let root = opts.root;
  const fetched: Prefetched = {};
  if (opts.early !== undefined) fetched.snapshot = guessSnapshot(server, gun);
  if (!root) {
    // The timestamp is asked for beside the root (it is always the current one); it is
    // read only once the root it must be verified under is.
    const rootBytes = server.getCurrent(gun, 'root', MAX_UNKNOWN_BYTES);
    const timestampBytes = fetchTimestamp(server, gun);
    timestampBytes.catch(() => undefined); // a failed root is the error to report first
    fetched.timestamp = timestampBytes;
    root = parseMetadata('root', await rootBytes, FROM_SERVER);
    verifyRoot(root, gun, now);
  }
  const { timestamp, snapshot } = await readTop(server, gun, root, now, fetched);
  const pins = snapshot.signed.meta;
  const r = root.signed;

  const top = await files.get('targets', pins.get('targets'));
  verifyBase(top, r, 'targets', gun, now);

  const targets = new Map<string, SignedMetadata<Targets>>([['targets', top]]);
  const warnings: string[] = [];
  // Pre-order walk: a parent's children are verified before its later siblings; all of a
  // verified parent's children are fetched side by side. Notary skips roles the snapshot
  // does not list.
  const children = (parent: Targets): Array<{ d: DelegatedRole; parent: Targets }> => {
    const listed = parent.delegationRoles.filter((d) => pins.has(d.name));
    for (const d of listed) files.start(d.name, pins.get(d.name));
    return listed.map((d) => ({ d, parent }));
  };
  const queue = children(top.signed);
  while (queue.length > 0) {
    const { d, parent } = queue.shift() as (typeof queue)[number];
    const file = await files.get(d.name, pins.get(d.name));
    try {
      verifyThreshold(file.message, file.signatures, {
        role: d.name,
        keys: parent.keysOf(d),
        threshold: d.threshold,
      });
      expiryCheck(file, now);
    } catch (err) {
      if (
        err instanceof NotaryHsmError &&
        (err.code === 'THRESHOLD_NOT_MET' || err.code === 'METADATA_EXPIRED')
      ) {
        warnings.push(`skipped ${d.name}: ${err.message}`);
        continue;
      }
      throw err;
    }
    targets.set(d.name, file);
    queue.unshift(...children(file.signed));
  }
  return { gun, root, timestamp, snapshot, targets, warnings };
}
