/**
 * Publishing workflows over a verified repository: create a repository (root
 * certificate key, targets key, server-held snapshot and timestamp keys) and change the
 * targets of `targets` or of a delegation. Each workflow fetches and verifies the
 * current trust data, builds the next version, signs it through the choke point and
 * uploads it in one request, then reads it back to prove the server stored our bytes
 * and pinned them in its snapshot (a mismatch would make every Go client refuse the
 * repository).
 */
import { NotaryHsmError, isNotaryHsmError } from '../errors';
import type { FileMeta } from '../metadata/file-meta';
import { parseJson } from '../metadata/json';
import { TufKey } from '../metadata/keys';
import { Root } from '../metadata/root';
import {
  BASE_ROLES,
  parentRole,
  pathAllowed,
  restrictPaths,
  type BaseRole,
} from '../metadata/roles';
import type { SignedMetadata } from '../metadata/signed';
import { Targets, checkTargetName, type DelegatedRole } from '../metadata/targets';
import { GoTime } from '../metadata/time';
import type { Requirement } from '../metadata/verify';
import { baseRequirement, readRepository, type TrustedRepository } from './reader';
import type { MetadataSigning } from './signing';
import type { TrustServer } from './trust-server';

/** Default lifetimes in days, as Notary: root 10 years, targets and delegations 3 years. */
export const ROOT_DAYS = 3650;
export const TARGETS_DAYS = 1095;

async function serverKey(
  server: TrustServer,
  gun: string,
  role: 'timestamp' | 'snapshot',
): Promise<TufKey> {
  return TufKey.fromJson(parseJson(await server.getServerKey(gun, role)), `/${role}.key`);
}

async function repositoryExists(server: TrustServer, gun: string): Promise<boolean> {
  try {
    await server.getCurrent(gun, 'root');
    return true;
  } catch (err) {
    if (isNotaryHsmError(err, 'SERVER_NOT_FOUND')) return false;
    throw err;
  }
}

/** Uploads `files`, then reads the repository back and checks it holds exactly them. */
async function publishAndConfirm(
  server: TrustServer,
  gun: string,
  files: readonly SignedMetadata[],
  now: Date,
  root?: SignedMetadata<Root>,
): Promise<TrustedRepository> {
  try {
    await server.publish(
      gun,
      files.map((f) => ({ role: f.role, bytes: f.bytes })),
    );
  } catch (err) {
    if (
      isNotaryHsmError(err, 'SERVER_INVALID_UPDATE') &&
      /does not hold current snapshot key/.test(err.message)
    ) {
      throw new NotaryHsmError(
        'SERVER_INVALID_UPDATE',
        `${gun}: the snapshot key is held by a client, not the server; hand it to the server first ` +
          `(notary key rotate ${gun} snapshot -r)`,
        { cause: err },
      );
    }
    throw err;
  }
  const repo = await readRepository(server, gun, root ? { now, root } : { now });
  for (const f of files) {
    const stored = f.role === 'root' ? repo.root : repo.targets.get(f.role);
    if (!stored?.bytes.equals(f.bytes)) {
      throw new NotaryHsmError(
        'SERVER_BAD_RESPONSE',
        `${gun}: the server's ${f.role} is not the file just published (another writer, or a byte mismatch)`,
        { details: { role: f.role } },
      );
    }
  }
  return repo;
}

export interface InitOptions {
  server: TrustServer;
  gun: string;
  signing: MetadataSigning;
  /** Delegations of `targets` to create with the repository. */
  delegations?: readonly DelegatedRole[];
  delegationKeys?: readonly TufKey[];
  now?: Date;
}

/**
 * Creates `gun`: a root certificate for the root key, the targets key, and the
 * server's snapshot and timestamp keys; publishes root v1 and an empty targets v1.
 * throws: REPOSITORY_EXISTS, SERVER_*, INSUFFICIENT_SIGNATURES, SIGNER_INVALID_SIGNATURE
 */
export async function initRepository(opts: InitOptions): Promise<TrustedRepository> {
  const { server, gun } = opts;
  const now = opts.now ?? new Date();
  if (await repositoryExists(server, gun)) {
    throw new NotaryHsmError('REPOSITORY_EXISTS', `${gun} already has trust data on the server`, {
      details: { gun },
    });
  }
  const rootKey = await opts.signing.rootKey(gun);
  const targetsKey = await opts.signing.targetsKey();
  const snapshotKey = await serverKey(server, gun, 'snapshot');
  const timestampKey = await serverKey(server, gun, 'timestamp');
  const byRole: Record<BaseRole, TufKey> = {
    root: rootKey,
    targets: targetsKey,
    snapshot: snapshotKey,
    timestamp: timestampKey,
  };
  const root = new Root({
    expires: GoTime.daysFromNow(ROOT_DAYS, now),
    version: 1,
    keys: new Map(BASE_ROLES.map((r) => [byRole[r].id, byRole[r]])),
    roles: new Map(BASE_ROLES.map((r) => [r, { keyIds: [byRole[r].id], threshold: 1 }])),
  });
  const targets = new Targets({
    expires: GoTime.daysFromNow(TARGETS_DAYS, now),
    version: 1,
    targets: new Map(),
    delegationKeys: new Map((opts.delegationKeys ?? []).map((k) => [k.id, k])),
    delegationRoles: opts.delegations ?? [],
  });
  const signedRoot = await opts.signing.sign(gun, 'root', root, [
    { role: 'root', keys: [rootKey], threshold: 1 },
  ]);
  const signedTargets = await opts.signing.sign(gun, 'targets', targets, [
    { role: 'targets', keys: [targetsKey], threshold: 1 },
  ]);
  return publishAndConfirm(server, gun, [signedRoot, signedTargets], now);
}

export interface TargetChanges {
  /** Targets to add or replace. */
  add?: ReadonlyMap<string, FileMeta>;
  /** Targets to remove; each must exist in the role. */
  remove?: readonly string[];
}

export interface UpdateOptions {
  server: TrustServer;
  gun: string;
  /** `targets` (default) or a delegation `targets/<name>`. */
  role?: string;
  signing: MetadataSigning;
  changes: TargetChanges;
  now?: Date;
}

/**
 * The entry delegating to `role` in its parent's (verified) file, and that file.
 * throws: ROLE_MISSING
 */
function delegationEntry(
  repo: TrustedRepository,
  role: string,
): { parent: Targets; entry: DelegatedRole } {
  const parent = repo.targets.get(parentRole(role))?.signed;
  const entry = parent?.delegationRoles.find((d) => d.name === role);
  if (!parent || !entry) {
    throw new NotaryHsmError('ROLE_MISSING', `${repo.gun} has no delegation ${role}`, {
      details: { role },
    });
  }
  return { parent, entry };
}

/** Who must sign `role` in `repo`: root's targets role, or the delegation entry in its parent. */
export function targetsRequirement(repo: TrustedRepository, role: string, now: Date): Requirement {
  if (role === 'targets') return baseRequirement(repo.root.signed, 'targets', repo.gun, now);
  const { parent, entry } = delegationEntry(repo, role);
  return { role, keys: parent.keysOf(entry), threshold: entry.threshold };
}

/**
 * The path prefixes `role` may hold targets under, as Notary's walk computes them: the
 * delegation entry's paths restricted by every ancestor's ('' = everything; `targets`
 * holds everything). Readers ignore a target outside them, so none may be added.
 * throws: ROLE_MISSING
 */
export function effectivePaths(repo: TrustedRepository, role: string): string[] {
  if (role === 'targets') return [''];
  const { entry } = delegationEntry(repo, role);
  return restrictPaths(effectivePaths(repo, parentRole(role)), entry.paths);
}

/**
 * Refuses, before anything is signed, a target every client would ignore.
 * throws: TARGET_OUTSIDE_PATHS, ROLE_MISSING
 */
function checkInsidePaths(repo: TrustedRepository, role: string, names: Iterable<string>): void {
  if (role === 'targets') return;
  const paths = effectivePaths(repo, role);
  for (const name of names) {
    if (pathAllowed(name, paths)) continue;
    const allowed = paths.length === 0 ? 'none' : paths.map((p) => JSON.stringify(p)).join(', ');
    throw new NotaryHsmError(
      'TARGET_OUTSIDE_PATHS',
      `${JSON.stringify(name)} lies outside the paths of ${role} (${allowed})`,
      { details: { role, target: name, paths } },
    );
  }
}

/**
 * Adds and removes targets of one role and publishes the next version. Added names must
 * be names Go can write, inside the role's paths; otherwise nothing is signed.
 * throws: TARGET_INVALID, TARGET_OUTSIDE_PATHS, TARGET_NOT_FOUND, ROLE_MISSING, SERVER_*,
 * INSUFFICIENT_SIGNATURES, verification codes
 */
export async function updateTargets(opts: UpdateOptions): Promise<TrustedRepository> {
  const { server, gun } = opts;
  const role = opts.role ?? 'targets';
  const now = opts.now ?? new Date();
  const added = [...(opts.changes.add?.keys() ?? [])];
  for (const name of added) checkTargetName(name);
  const repo = await readRepository(server, gun, { now });
  const requirement = targetsRequirement(repo, role, now);
  checkInsidePaths(repo, role, added);
  const current = repo.targets.get(role)?.signed;
  const next = new Map(current?.targets ?? []);
  for (const name of opts.changes.remove ?? []) {
    if (!next.delete(name)) {
      throw new NotaryHsmError(
        'TARGET_NOT_FOUND',
        `${gun}: ${role} has no target ${JSON.stringify(name)}`,
        {
          details: { role, target: name },
        },
      );
    }
  }
  for (const [name, meta] of opts.changes.add ?? []) next.set(name, meta);

  const expires = GoTime.daysFromNow(TARGETS_DAYS, now);
  const version = (current?.version ?? 0) + 1;
  const signed = current
    ? current.with({ targets: next, version, expires })
    : new Targets({ expires, version, targets: next });
  const file = await opts.signing.sign(gun, role, signed, [requirement]);
  return publishAndConfirm(server, gun, [file], now, repo.root);
}
