/**
 * Changing the targets of one or more roles (`sign`, `add`, `remove`): the same added and
 * removed tags applied to each role, signed, and published in one request through the
 * shared update loop (client/update-loop.ts), which re-applies the change on top of
 * whatever another writer published meanwhile.
 *
 * Added names must be names Go can write and lie inside every role's paths; the
 * repository's signing keys must be ones the signer holds. Both are checked before
 * anything is signed, so a refused change burns no version.
 */
import { NotaryHsmError } from '../errors';
import { allPlain } from '../metadata/canonical';
import type { FileMeta } from '../metadata/file-meta';
import { parentRole, pathAllowed, restrictPaths } from '../metadata/roles';
import type { SignedMetadata } from '../metadata/signed';
import { Targets, checkTargetName, type DelegatedRole } from '../metadata/targets';
import { GoTime } from '../metadata/time';
import type { Requirement } from '../metadata/verify';
import { baseRequirement, type TrustedRepository } from './reader';
import type { MetadataSigning } from './signing';
import type { TrustServer } from './trust-server';
import { runUpdateLoop, type Attempt, type RetryOptions, type UpdateResult } from './update-loop';

/** Default lifetime of targets and delegations in days, as Notary: 3 years. */
export const TARGETS_DAYS = 1095;

export interface TargetChanges {
  /** Targets to add or replace. */
  add?: ReadonlyMap<string, FileMeta>;
  /** Targets to remove; on the first attempt each must exist in every role. */
  remove?: readonly string[];
}

export interface UpdateOptions extends RetryOptions {
  server: TrustServer;
  gun: string;
  /** `targets` (default) or a delegation `targets/<name>`. */
  role?: string;
  /** Several roles changed alike in one publish (e.g. a signer's role and targets/releases). */
  roles?: readonly string[];
  signing: MetadataSigning;
  /**
   * The change, or its promise (tags still being read while the repository is fetched):
   * the change step waits for it, and once it has failed no further request is made.
   */
  changes: TargetChanges | Promise<TargetChanges>;
  now?: Date;
  /** Told what the update is doing now (the CLI shows it on a terminal). */
  progress?: (step: string) => void;
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
  if (paths.includes('')) return; // every name lies under the empty prefix
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
 * The next version of `role` with the change applied to what the repository holds now.
 * On the first attempt a removed name must exist; later, another writer may have removed
 * it already, which leaves the state the command asked for.
 */
function nextTargets(attempt: Attempt, role: string, changes: TargetChanges, now: Date): Targets {
  const { repo } = attempt;
  const current = repo.targets.get(role)?.signed;
  const remove = changes.remove ?? [];
  if (attempt.number === 0) {
    for (const name of remove) {
      if (current?.hasTarget(name) === true) continue;
      throw new NotaryHsmError(
        'TARGET_NOT_FOUND',
        `${repo.gun}: ${role} has no target ${JSON.stringify(name)}`,
        { details: { role, target: name } },
      );
    }
  }
  const expires = GoTime.daysFromNow(TARGETS_DAYS, now);
  const version = attempt.version(role, current?.version);
  return current
    ? current.withTargets(changes.add, remove, { version, expires })
    : new Targets({ expires, version, targets: new Map(changes.add ?? []) });
}

/**
 * Adds and removes targets of one or more roles and publishes their next versions in one
 * request, retrying on conflicts and server failures within the bounds.
 * throws: TARGET_INVALID, TARGET_OUTSIDE_PATHS, TARGET_NOT_FOUND, ROLE_MISSING, KEY_NOT_HELD,
 * UPDATE_GAVE_UP, SERVER_* (not retried), INSUFFICIENT_SIGNATURES, verification codes
 */
export async function updateTargets(opts: UpdateOptions): Promise<UpdateResult> {
  const { gun } = opts;
  const roles = opts.roles ?? [opts.role ?? 'targets'];
  if (roles.length === 0 || new Set(roles).size !== roles.length) {
    throw new NotaryHsmError('USAGE', 'name each role to change once');
  }
  // A change given as it is is checked now, before any request; a promise when it comes.
  const later = opts.changes instanceof Promise;
  const ready = later
    ? (opts.changes as Promise<TargetChanges>).then(checkAdded)
    : Promise.resolve(checkAdded(opts.changes as TargetChanges));
  let failed: { error: unknown } | undefined;
  ready.catch((error: unknown) => {
    failed = { error };
  });
  const prepared = opts.signing.prepare?.(gun);
  try {
    return await runUpdateLoop({
      // Once the change has failed, its failure ends the loop at its next request.
      server: later ? gated(opts.server, () => failed) : opts.server,
      gun,
      // The top-level targets file is read by every update: asked for beside the chain too.
      early: roles.includes('targets') ? roles : ['targets', ...roles],
      ...(opts.retries === undefined ? {} : { retries: opts.retries }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      ...(opts.now === undefined ? {} : { now: () => opts.now as Date }),
      ...(opts.progress === undefined ? {} : { progress: opts.progress }),
      change: async (attempt) => {
        const { add, remove } = await ready;
        const added = [...(add?.keys() ?? [])];
        const change = { ...(add ? { add } : {}), ...(remove ? { remove } : {}) };
        const now = opts.now ?? new Date();
        const files: SignedMetadata[] = [];
        let leaseMs: number | undefined;
        // Every role is checked before any is signed.
        const plans = roles.map((role) => {
          const requirement = targetsRequirement(attempt.repo, role, now);
          checkInsidePaths(attempt.repo, role, added);
          return { role, requirement, signed: nextTargets(attempt, role, change, now) };
        });
        for (const p of plans) {
          opts.progress?.(
            `${gun}: signing ${p.role} version ${p.signed.version} (${p.signed.targetCount} targets)`,
          );
          const file = await opts.signing.sign(gun, p.role, p.signed, [p.requirement]);
          attempt.signed(file);
          files.push(file);
          if (file.leaseMs !== undefined) leaseMs = Math.min(leaseMs ?? file.leaseMs, file.leaseMs);
        }
        return leaseMs === undefined ? { files } : { files, leaseMs };
      },
    });
  } finally {
    // The signer's early question (the daemon's keys) ends with the update, answered or not.
    await prepared;
  }
}

/** `changes`, once every added name is one Go can write. throws: TARGET_INVALID */
function checkAdded(changes: TargetChanges): TargetChanges {
  const names = [...(changes.add?.keys() ?? [])];
  // No name can be empty or hold what Go cannot write when none holds a suspect character.
  if (names.includes('') || !allPlain(names)) for (const name of names) checkTargetName(name);
  return changes;
}

/**
 * `server`, whose requests fail with `stop()`'s error once it has one, before anything is
 * sent (a failure that is not transient: the update loop gives up on it).
 */
function gated(server: TrustServer, stop: () => { error: unknown } | undefined): TrustServer {
  const open = (): void => {
    const s = stop();
    if (s !== undefined) throw s.error;
  };
  return {
    getCurrent: async (...a) => {
      open();
      return server.getCurrent(...a);
    },
    getByHash: async (...a) => {
      open();
      return server.getByHash(...a);
    },
    getServerKey: async (...a) => {
      open();
      return server.getServerKey(...a);
    },
    publish: async (...a) => {
      open();
      return server.publish(...a);
    },
  };
}
