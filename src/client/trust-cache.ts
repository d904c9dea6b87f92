/**
 * The local trust cache: one JSON file per GUN holding the root we trust for it (its
 * exact bytes) and the highest version seen of every role. It is what turns a pinned
 * first verification into a chain: later runs follow root rotations from the cached
 * root, and refuse any role older than one already seen (a rollback). Files are written
 * whole (temporary file, then rename) and merged with what another run wrote meanwhile,
 * so versions never go down in the cache itself.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { NotaryHsmError } from '../errors';

/** What the cache holds for one GUN. */
export interface CachedTrust {
  readonly gun: string;
  /** The newest root we trust, byte for byte. */
  readonly root: Buffer;
  /** The highest version seen per role (root, timestamp, snapshot, targets, delegations). */
  readonly versions: ReadonlyMap<string, number>;
  /** Every root key ID (certificate and canonical) trusted along the chain, for pins. */
  readonly rootKeyIds: readonly string[];
  /** When the cache was last written (ISO 8601). */
  readonly updated: string;
}

const FORMAT = 1;

interface CacheFile {
  format: number;
  gun: string;
  root: string;
  versions: Record<string, number>;
  rootKeyIds: string[];
  updated: string;
}

const KEY_ID = /^[0-9a-f]{64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** What is wrong with a cache file's document, or undefined when it is ours. */
function cacheFileProblem(doc: unknown): string | undefined {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'not an object';
  const d = doc as Partial<Record<keyof CacheFile, unknown>>;
  const keys = Object.keys(doc).sort().join(',');
  if (keys !== 'format,gun,root,rootKeyIds,updated,versions') return `members ${keys}`;
  if (d.format !== FORMAT) return `format ${JSON.stringify(d.format)}, not ${FORMAT}`;
  if (typeof d.gun !== 'string' || d.gun === '') return 'no GUN';
  if (typeof d.root !== 'string' || d.root === '' || !BASE64.test(d.root)) return 'no root';
  if (typeof d.updated !== 'string') return 'no time of update';
  const v = d.versions;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'no versions';
  for (const [role, n] of Object.entries(v)) {
    if (!Number.isSafeInteger(n) || (n as number) < 0) return `version of ${role}`;
  }
  const ids = d.rootKeyIds;
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string' || !KEY_ID.test(id))) {
    return 'root key IDs';
  }
  return undefined;
}

/** The trust directory: `--trust-dir`, else NOTARY_HSM_TRUST_DIR, else ~/.notary-hsm/trust. */
export function trustDirFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.NOTARY_HSM_TRUST_DIR ?? join(homedir(), '.notary-hsm', 'trust');
}

/** Reads and writes the cache files of one trust directory. */
export class TrustCache {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The file of `gun` (its name percent-encoded, so `/` and `:` stay in one file name). */
  fileFor(gun: string): string {
    return join(this.dir, `${encodeURIComponent(gun)}.json`);
  }

  /**
   * What the cache holds for `gun`, or undefined when nothing yet.
   * throws: TRUST_CACHE_INVALID
   */
  load(gun: string): CachedTrust | undefined {
    const file = this.fileFor(gun);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new NotaryHsmError('TRUST_CACHE_INVALID', `cannot read trust cache ${file}`, {
        cause: err,
        details: { file },
      });
    }
    const invalid = (why: string, cause?: unknown): NotaryHsmError =>
      new NotaryHsmError(
        'TRUST_CACHE_INVALID',
        `trust cache ${file} is not one notary-hsm wrote: ${why}; remove it only if you ` +
          `can re-pin ${gun} from a root you checked out of band`,
        { details: { file }, ...(cause === undefined ? {} : { cause }) },
      );
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (cause) {
      throw invalid('not JSON', cause);
    }
    const problem = cacheFileProblem(doc);
    if (problem !== undefined) throw invalid(problem);
    const data = doc as CacheFile;
    if (data.gun !== gun) throw invalid(`it is for ${JSON.stringify(data.gun)}`);
    return {
      gun,
      root: Buffer.from(data.root, 'base64'),
      versions: new Map(Object.entries(data.versions)),
      rootKeyIds: data.rootKeyIds,
      updated: data.updated,
    };
  }

  /**
   * Records `next`, merged with what the file holds now: the higher root version's bytes,
   * the higher version of every role, the union of root key IDs.
   * throws: TRUST_CACHE_INVALID (cannot write)
   */
  save(next: Omit<CachedTrust, 'updated'> & { rootVersion: number }): void {
    const file = this.fileFor(next.gun);
    const now = this.load(next.gun);
    const versions = new Map(now?.versions ?? []);
    for (const [role, v] of next.versions) versions.set(role, Math.max(v, versions.get(role) ?? 0));
    const keepOld = now !== undefined && (now.versions.get('root') ?? 0) > next.rootVersion;
    const doc = {
      format: FORMAT,
      gun: next.gun,
      root: (keepOld ? now.root : next.root).toString('base64'),
      versions: Object.fromEntries([...versions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      rootKeyIds: [...new Set([...(now?.rootKeyIds ?? []), ...next.rootKeyIds])],
      updated: new Date().toISOString(),
    };
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
      renameSync(tmp, file);
    } catch (cause) {
      throw new NotaryHsmError('TRUST_CACHE_INVALID', `cannot write trust cache ${file}`, {
        cause,
        details: { file },
      });
    }
  }
}

/**
 * Refuses any role whose version is below the one the cache has seen.
 * throws: ROLLBACK_DETECTED naming every such role
 */
export function checkRollback(
  gun: string,
  cached: CachedTrust | undefined,
  seen: ReadonlyMap<string, number>,
): void {
  if (!cached) return;
  const older = [...seen]
    .filter(([role, v]) => v < (cached.versions.get(role) ?? 0))
    .map(([role, v]) => ({ role, version: v, seen: cached.versions.get(role) as number }));
  if (older.length === 0) return;
  throw new NotaryHsmError(
    'ROLLBACK_DETECTED',
    `${gun}: the server offers older trust data than this machine has already seen (` +
      older.map((o) => `${o.role} version ${o.version} < ${o.seen}`).join(', ') +
      '); refusing it: someone may be replaying old metadata',
    { details: { gun, roles: older } },
  );
}
