/**
 * Managing delegations after init: add a signer's role (or keys to it), remove a role or
 * some of its keys, and list them. A delegation lives in its parent's file (`targets` for
 * `targets/<name>`), so a change re-signs the parent, through the shared update loop
 * (client/update-loop.ts): another writer's change published meanwhile is kept.
 *
 * One role per signer is the recommended shape: a signer's key can then overwrite only
 * its own tags. With `docker`, `targets/releases` is kept as `docker trust signer add` and
 * `signer remove` keep it: every signer's keys are also keys of `targets/releases` (paths
 * all, threshold 1), and a signer's keys leave it when the signer goes (unless another
 * signer still uses them).
 *
 * Revocation: a removed role is no longer walked, and a file signed only by removed keys
 * no longer meets its threshold, so every reader drops what only they signed.
 */
import { NotaryHsmError } from '../errors';
import type { TufKey } from '../metadata/keys';
import { checkDelegationRole, parentRole } from '../metadata/roles';
import type { DelegatedRole, Targets } from '../metadata/targets';
import { GoTime } from '../metadata/time';
import { DOCKER_RELEASES } from './docker';
import type { TrustedRepository } from './reader';
import type { MetadataSigning } from './signing';
import { TARGETS_DAYS, targetsRequirement } from './targets-update';
import type { TrustServer } from './trust-server';
import { runUpdateLoop, type Attempt, type RetryOptions, type UpdateResult } from './update-loop';

/** One delegation as `delegation list` shows it. */
export interface DelegationView {
  readonly role: string;
  readonly keyIds: readonly string[];
  readonly paths: readonly string[];
  readonly threshold: number;
}

/** Every delegation of every verified file, parents first. */
export function listDelegations(repo: TrustedRepository): DelegationView[] {
  const out: DelegationView[] = [];
  for (const file of repo.targets.values()) {
    for (const d of file.signed.delegationRoles) {
      out.push({
        role: d.name,
        keyIds: [...d.keyIds],
        paths: [...d.paths],
        threshold: d.threshold,
      });
    }
  }
  return out;
}

/** What changes in one parent file. */
type ParentChange = (parent: Targets, repo: TrustedRepository) => Targets;

interface ParentUpdateOptions extends RetryOptions {
  server: TrustServer;
  gun: string;
  signing: MetadataSigning;
  /** The role whose delegations change (`targets` for `targets/<name>`). */
  parent: string;
  change: ParentChange;
  now?: Date;
}

/** Re-signs `parent` with `change` applied, through the update loop. */
async function updateParent(opts: ParentUpdateOptions): Promise<UpdateResult> {
  return runUpdateLoop({
    server: opts.server,
    gun: opts.gun,
    ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    change: async (attempt: Attempt) => {
      const now = opts.now ?? new Date();
      const { repo } = attempt;
      const current = repo.targets.get(opts.parent)?.signed;
      if (!current) {
        throw new NotaryHsmError('ROLE_MISSING', `${repo.gun} has no verified ${opts.parent}`, {
          details: { role: opts.parent },
        });
      }
      const requirement = targetsRequirement(repo, opts.parent, now);
      const changed = opts.change(current, repo).with({
        version: attempt.version(opts.parent, current.version),
        expires: GoTime.daysFromNow(TARGETS_DAYS, now),
      });
      const file = await opts.signing.sign(opts.gun, opts.parent, changed, [requirement]);
      attempt.signed(file);
      return file.leaseMs === undefined
        ? { files: [file] }
        : { files: [file], leaseMs: file.leaseMs };
    },
  });
}

/** `keys` merged into a key map, and the keys no role of `roles` uses any more dropped. */
function keyMap(
  current: ReadonlyMap<string, TufKey>,
  add: readonly TufKey[],
  roles: readonly DelegatedRole[],
): Map<string, TufKey> {
  const all = new Map(current);
  for (const k of add) all.set(k.id, k);
  const used = new Set(roles.flatMap((r) => r.keyIds));
  for (const id of [...all.keys()]) if (!used.has(id)) all.delete(id);
  return all;
}

function withRoles(parent: Targets, roles: DelegatedRole[], keys: readonly TufKey[]): Targets {
  return parent.with({
    delegationRoles: roles,
    delegationKeys: keyMap(parent.delegationKeys, keys, roles),
  });
}

export interface AddDelegationOptions extends RetryOptions {
  server: TrustServer;
  gun: string;
  signing: MetadataSigning;
  role: string;
  keys: readonly TufKey[];
  /** Path prefixes ('' = all); undefined: all for a new role, unchanged for an existing one. */
  paths?: readonly string[];
  threshold?: number;
  docker?: boolean;
  now?: Date;
}

/**
 * Adds `role` delegating to `keys`, or adds `keys` (and `paths`) to an existing role.
 * throws: ROLE_NAME_INVALID, USAGE (threshold above the keys), ROLE_MISSING, KEY_NOT_HELD,
 * UPDATE_GAVE_UP, SERVER_*
 */
export async function addDelegation(opts: AddDelegationOptions): Promise<UpdateResult> {
  const role = checkDelegationRole(opts.role);
  if (opts.keys.length === 0) throw new NotaryHsmError('USAGE', 'name at least one key');
  return updateParent({
    ...opts,
    parent: parentRole(role),
    change: (parent) => {
      const roles = [...parent.delegationRoles];
      const ids = opts.keys.map((k) => k.id);
      const upsert = (name: string, paths: readonly string[] | undefined, threshold?: number) => {
        const i = roles.findIndex((r) => r.name === name);
        const old = i < 0 ? undefined : roles[i];
        const keyIds = [...new Set([...(old?.keyIds ?? []), ...ids])];
        const next: DelegatedRole = {
          name,
          keyIds,
          threshold: threshold ?? old?.threshold ?? 1,
          paths: paths ? [...new Set([...(old?.paths ?? []), ...paths])] : (old?.paths ?? ['']),
        };
        if (next.threshold < 1 || next.threshold > keyIds.length) {
          throw new NotaryHsmError(
            'USAGE',
            `${name}: a threshold of ${next.threshold} needs at least that many keys (it has ${keyIds.length})`,
          );
        }
        if (i < 0) roles.push(next);
        else roles[i] = next;
      };
      upsert(role, opts.paths, opts.threshold);
      if (opts.docker && role !== DOCKER_RELEASES) upsert(DOCKER_RELEASES, [''], 1);
      return withRoles(parent, roles, opts.keys);
    },
  });
}

export interface RemoveDelegationOptions extends RetryOptions {
  server: TrustServer;
  gun: string;
  signing: MetadataSigning;
  role: string;
  /** Key IDs (bare or certificate) to remove; undefined: the whole role. */
  keyIds?: readonly string[];
  docker?: boolean;
  now?: Date;
}

/**
 * Removes `role` (and its keys where no other role uses them), or only some of its keys;
 * a role left without keys is removed. With `docker`, the signer's keys also leave
 * `targets/releases` unless another signer still holds them.
 * throws: ROLE_MISSING (no such role, or no such key in it), UPDATE_GAVE_UP, SERVER_*
 */
export async function removeDelegation(opts: RemoveDelegationOptions): Promise<UpdateResult> {
  const role = checkDelegationRole(opts.role);
  return updateParent({
    ...opts,
    parent: parentRole(role),
    change: (parent) => {
      const existing = parent.delegationRoles.find((r) => r.name === role);
      if (!existing) {
        throw new NotaryHsmError('ROLE_MISSING', `${opts.gun} has no delegation ${role}`, {
          details: { role },
        });
      }
      const matches = (id: string, wanted: string): boolean => {
        if (id === wanted) return true;
        const key = parent.delegationKeys.get(id);
        try {
          return key?.canonicalId === wanted;
        } catch {
          return false;
        }
      };
      const removing = opts.keyIds
        ? existing.keyIds.filter((id) => opts.keyIds?.some((w) => matches(id, w)))
        : [...existing.keyIds];
      const missing = (opts.keyIds ?? []).filter(
        (w) => !existing.keyIds.some((id) => matches(id, w)),
      );
      if (missing.length > 0) {
        throw new NotaryHsmError('ROLE_MISSING', `${role} has no key ${missing.join(', ')}`, {
          details: { role, keys: missing },
        });
      }
      let roles = parent.delegationRoles
        .map((r) =>
          r.name === role ? { ...r, keyIds: r.keyIds.filter((id) => !removing.includes(id)) } : r,
        )
        .filter((r) => r.name !== role || r.keyIds.length > 0)
        .map((r) =>
          r.name === role ? { ...r, threshold: Math.min(r.threshold, r.keyIds.length) } : r,
        );
      if (opts.docker && role !== DOCKER_RELEASES) {
        const stillUsed = new Set(
          roles.filter((r) => r.name !== DOCKER_RELEASES).flatMap((r) => r.keyIds),
        );
        roles = roles
          .map((r) =>
            r.name === DOCKER_RELEASES
              ? {
                  ...r,
                  keyIds: r.keyIds.filter((id) => !removing.includes(id) || stillUsed.has(id)),
                }
              : r,
          )
          .filter((r) => r.name !== DOCKER_RELEASES || r.keyIds.length > 0)
          .map((r) =>
            r.name === DOCKER_RELEASES
              ? { ...r, threshold: Math.min(r.threshold, r.keyIds.length) }
              : r,
          );
      }
      return withRoles(parent, roles, []);
    },
  });
}
