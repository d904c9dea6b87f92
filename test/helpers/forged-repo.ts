/**
 * Trust data an attacker (or a test) re-signs: a repository's real files, taken from a
 * real notary-server, with new snapshot and timestamp files signed by test keys the root
 * lists, and any file changed or re-signed on the way. `serveState` puts one state of
 * such a repository onto a static trust server exactly where a Notary client looks for
 * it (current names, `N.root.json`, `<role>.<sha256>.json`).
 */
import { createHash } from 'node:crypto';
import { tufKeyOf } from '../../src/client/signing';
import { FileMeta } from '../../src/metadata/file-meta';
import type { TufKey } from '../../src/metadata/keys';
import { Root } from '../../src/metadata/root';
import type { BaseRole } from '../../src/metadata/roles';
import { signMetadata } from '../../src/metadata/sign';
import { parseMetadata, type RoleModel, type SignedMetadata } from '../../src/metadata/signed';
import { Snapshot, Timestamp } from '../../src/metadata/snapshot';
import type { Targets } from '../../src/metadata/targets';
import { GoTime } from '../../src/metadata/time';
import type { Signer } from '../../src/signer/signer';
import type { StaticTrustServer } from './static-trust-server';

/** One state of a repository as a server offers it. */
export interface RepoState {
  /** Every root version the server holds, oldest first; the last one is current. */
  readonly roots: readonly SignedMetadata<Root>[];
  readonly targets: Buffer;
  /** Delegation files by role. */
  readonly delegations: ReadonlyMap<string, Buffer>;
  readonly snapshot: SignedMetadata<Snapshot>;
  readonly timestamp: SignedMetadata<Timestamp>;
}

/** Signs `signed` for `role` with `signers`, each for its own key. */
export async function signWith<T extends RoleModel>(
  role: string,
  signed: T,
  signers: readonly Signer[],
  threshold = signers.length,
): Promise<SignedMetadata<T>> {
  return signMetadata({
    role,
    signed,
    signers,
    requirements: [{ role, keys: signers.map(tufKeyOf), threshold }],
  });
}

/** Signs a root with signers whose keys are `keys` (root certificates). */
export async function signRoot(
  root: Root,
  signers: readonly Signer[],
  keys: readonly TufKey[],
): Promise<SignedMetadata<Root>> {
  return signMetadata({
    role: 'root',
    signed: root,
    signers,
    requirements: [{ role: 'root', keys, threshold: keys.length }],
  });
}

/** `root` with other keys for some base roles (unused keys dropped), at `version`. */
export function rekey(
  root: Root,
  version: number,
  roles: Partial<Record<BaseRole, { keys: readonly TufKey[]; threshold?: number }>>,
): Root {
  const next = new Map(root.roles);
  const keys = new Map(root.keys);
  for (const [role, r] of Object.entries(roles) as [
    BaseRole,
    { keys: TufKey[]; threshold?: number },
  ][]) {
    next.set(role, { keyIds: r.keys.map((k) => k.id), threshold: r.threshold ?? 1 });
    for (const k of r.keys) keys.set(k.id, k);
  }
  const used = new Set([...next.values()].flatMap((r) => r.keyIds));
  for (const id of [...keys.keys()]) if (!used.has(id)) keys.delete(id);
  return new Root({ expires: root.expires, version, keys, roles: next });
}

export interface PinOptions {
  version: number;
  signer: Signer;
  expires?: GoTime;
}

/** A snapshot pinning the current root, targets and delegations of `parts`. */
export async function snapshotOf(
  parts: Pick<RepoState, 'roots' | 'targets' | 'delegations'>,
  opts: PinOptions,
): Promise<SignedMetadata<Snapshot>> {
  const root = parts.roots[parts.roots.length - 1] as SignedMetadata<Root>;
  const meta = new Map<string, FileMeta>([
    ['root', FileMeta.of(root.bytes)],
    ['targets', FileMeta.of(parts.targets)],
  ]);
  for (const [role, bytes] of parts.delegations) meta.set(role, FileMeta.of(bytes));
  const expires = opts.expires ?? GoTime.daysFromNow(1095);
  return signWith('snapshot', new Snapshot({ expires, version: opts.version, meta }), [
    opts.signer,
  ]);
}

/** A timestamp pinning `snapshot`. */
export async function timestampOf(
  snapshot: Buffer,
  opts: PinOptions,
): Promise<SignedMetadata<Timestamp>> {
  const expires = opts.expires ?? GoTime.daysFromNow(14);
  const meta = new Map([['snapshot', FileMeta.of(snapshot)]]);
  return signWith('timestamp', new Timestamp({ expires, version: opts.version, meta }), [
    opts.signer,
  ]);
}

/** Parses a targets file, lets `edit` change it, and re-signs it with `signers`. */
export async function resignTargets(
  role: string,
  bytes: Buffer,
  signers: readonly Signer[],
  edit: (t: Targets) => Targets,
): Promise<Buffer> {
  const t = parseMetadata(role, bytes).signed;
  return (await signWith(role, edit(t), signers, 1)).bytes;
}

/** A Docker-style target entry for `content`. */
export function targetFor(content: string): FileMeta {
  const bytes = Buffer.from(content, 'utf8');
  return FileMeta.sha256(createHash('sha256').update(bytes).digest(), bytes.length);
}

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Replaces what `server` serves with `state`. */
export function serveState(server: StaticTrustServer, state: RepoState): void {
  server.files.clear();
  const current = state.roots[state.roots.length - 1] as SignedMetadata<Root>;
  server.files.set('root.json', current.bytes);
  for (const r of state.roots) server.files.set(`${r.signed.version}.root.json`, r.bytes);
  server.files.set('timestamp.json', state.timestamp.bytes);
  server.files.set('snapshot.json', state.snapshot.bytes);
  server.files.set(`snapshot.${sha(state.snapshot.bytes)}.json`, state.snapshot.bytes);
  server.files.set('targets.json', state.targets);
  server.files.set(`targets.${sha(state.targets)}.json`, state.targets);
  for (const [role, bytes] of state.delegations) {
    server.files.set(`${role}.json`, bytes);
    server.files.set(`${role}.${sha(bytes)}.json`, bytes);
  }
}

/** The file name a client fetches `bytes` of `role` under. */
export function byHash(role: string, bytes: Buffer): string {
  return `${role}.${sha(bytes)}.json`;
}
