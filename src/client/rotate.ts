/**
 * Key rotation, through the shared update loop (client/update-loop.ts):
 *
 * - root: the new root lists the new root certificates with their threshold and keeps
 *   the old certificates in `keys` (as Notary does); it is signed by the old root's
 *   threshold and by the new keys' threshold, so a client that trusted the old root
 *   follows to the new one;
 * - targets: root lists the new key for targets (signed by root's threshold), and
 *   targets is re-signed by the new key in the same publish (a reader would refuse the
 *   old file under the new root);
 * - a delegation: its parent lists the new keys (signed by the parent's keys), and the
 *   delegation is re-signed by them in the same publish;
 * - snapshot or timestamp: the server makes a new key of its own, and root lists it.
 *
 * Keys no role uses any more leave `keys` (root's old certificates excepted).
 */
import { NotaryHsmError } from '../errors';
import { parseJson } from '../metadata/json';
import { TufKey } from '../metadata/keys';
import { Root } from '../metadata/root';
import { BASE_ROLES, checkDelegationRole, parentRole, type BaseRole } from '../metadata/roles';
import type { SignedMetadata } from '../metadata/signed';
import type { Targets } from '../metadata/targets';
import { GoTime } from '../metadata/time';
import type { Requirement } from '../metadata/verify';
import { ROOT_DAYS } from './publish';
import { baseRequirement, type TrustedRepository } from './reader';
import { newRootChange, withSignatures, type RootChange } from './root-change';
import type { MetadataSigning } from './signing';
import { TARGETS_DAYS, targetsRequirement } from './targets-update';
import type { TrustServer } from './trust-server';
import { runUpdateLoop, type Attempt, type RetryOptions, type UpdateResult } from './update-loop';

interface RotateBase extends RetryOptions {
  server: TrustServer;
  gun: string;
  signing: MetadataSigning;
  now?: Date;
}

/** The next root: `role` now delegated to `keys` with `threshold`, other roles unchanged. */
function nextRoot(
  attempt: Attempt,
  role: BaseRole,
  keys: readonly TufKey[],
  threshold: number,
  now: Date,
): Root {
  const current = attempt.repo.root.signed;
  const roles = new Map(current.roles);
  roles.set(role, { keyIds: keys.map((k) => k.id), threshold });
  const all = new Map(current.keys);
  for (const k of keys) all.set(k.id, k);
  // Keys no role uses leave, except root certificates: Notary keeps the old ones.
  const used = new Set([...roles.values()].flatMap((r) => r.keyIds));
  const oldRoot = new Set(current.role('root').keyIds);
  for (const id of [...all.keys()]) if (!used.has(id) && !oldRoot.has(id)) all.delete(id);
  return new Root({
    expires: GoTime.daysFromNow(ROOT_DAYS, now),
    version: attempt.version('root', current.version),
    keys: all,
    roles: new Map(BASE_ROLES.map((r) => [r, roles.get(r) ?? current.role(r)])),
    consistentSnapshot: current.consistentSnapshot,
  });
}

/** Signs `files` one by one, telling the loop about each as soon as it is signed. */
async function signAll(
  attempt: Attempt,
  signing: MetadataSigning,
  gun: string,
  plans: readonly { role: string; signed: Root | Targets; requirements: Requirement[] }[],
): Promise<{ files: SignedMetadata[]; leaseMs?: number }> {
  const files: SignedMetadata[] = [];
  let leaseMs: number | undefined;
  for (const p of plans) {
    const file = await signing.sign(gun, p.role, p.signed, p.requirements);
    attempt.signed(file);
    files.push(file);
    if (file.leaseMs !== undefined) leaseMs = Math.min(leaseMs ?? file.leaseMs, file.leaseMs);
  }
  return leaseMs === undefined ? { files } : { files, leaseMs };
}

function loop(
  opts: RotateBase,
  change: (attempt: Attempt, now: Date) => Promise<{ files: SignedMetadata[]; leaseMs?: number }>,
): Promise<UpdateResult> {
  return runUpdateLoop({
    server: opts.server,
    gun: opts.gun,
    ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    change: (attempt) => change(attempt, opts.now ?? new Date()),
  });
}

function checkThreshold(threshold: number, keys: number, what: string): void {
  if (!(Number.isSafeInteger(threshold) && threshold >= 1 && threshold <= keys)) {
    throw new NotaryHsmError(
      'USAGE',
      `${what}: a threshold of ${threshold} needs at least that many keys (${keys} given)`,
    );
  }
}

/**
 * Rotates root to the root keys `signing.rootKeys` makes certificates for.
 * throws: USAGE, KEY_NOT_HELD, CERTIFICATE_INVALID, UPDATE_GAVE_UP, SERVER_*
 */
export async function rotateRoot(
  opts: RotateBase & {
    threshold?: number;
    /**
     * Told of each root signed, as a root change over the root it follows: the daemon never
     * signs a version twice and Notary takes only the next root version, so a signed root
     * whose publish fails must be kept (and published later with `root import`).
     */
    onSigned?: (change: RootChange) => void;
  },
): Promise<UpdateResult> {
  const certs = await opts.signing.rootKeys(opts.gun);
  const threshold = opts.threshold ?? 1;
  checkThreshold(threshold, certs.length, 'root');
  return loop(opts, async (attempt, now) => {
    const { repo } = attempt;
    const old = baseRequirement(repo.root.signed, 'root', repo.gun, now);
    const root = nextRoot(attempt, 'root', certs, threshold, now);
    const signed = await signAll(attempt, opts.signing, opts.gun, [
      {
        role: 'root',
        signed: root,
        requirements: [old, { role: 'root', keys: certs, threshold }],
      },
    ]);
    const [file] = signed.files;
    if (file && opts.onSigned) {
      const change = newRootChange(opts.gun, repo.root, root);
      opts.onSigned(withSignatures(change, file.signatures, 'notary-hsmd'));
    }
    return signed;
  });
}

/** The re-signed next version of a targets role, same targets, under the new keys. */
function resigned(repo: TrustedRepository, attempt: Attempt, role: string, now: Date): Targets {
  const current = repo.targets.get(role)?.signed;
  if (!current) {
    throw new NotaryHsmError('ROLE_MISSING', `${repo.gun} has no verified ${role}`, {
      details: { role },
    });
  }
  return current.with({
    version: attempt.version(role, current.version),
    expires: GoTime.daysFromNow(TARGETS_DAYS, now),
  });
}

/**
 * Rotates the top-level targets role to `keys` (re-signing targets with them).
 * throws: USAGE, KEY_NOT_HELD, UPDATE_GAVE_UP, SERVER_*
 */
export async function rotateTargets(
  opts: RotateBase & { keys: readonly TufKey[]; threshold?: number },
): Promise<UpdateResult> {
  const threshold = opts.threshold ?? 1;
  checkThreshold(threshold, opts.keys.length, 'targets');
  return loop(opts, async (attempt, now) => {
    const { repo } = attempt;
    const root = nextRoot(attempt, 'targets', opts.keys, threshold, now);
    const rootReq = baseRequirement(repo.root.signed, 'root', repo.gun, now);
    return signAll(attempt, opts.signing, opts.gun, [
      { role: 'root', signed: root, requirements: [rootReq] },
      {
        role: 'targets',
        signed: resigned(repo, attempt, 'targets', now),
        requirements: [{ role: 'targets', keys: [...opts.keys], threshold }],
      },
    ]);
  });
}

/**
 * Rotates delegation `role` to `keys`: its parent lists them, and the role is re-signed.
 * throws: ROLE_NAME_INVALID, ROLE_MISSING, USAGE, KEY_NOT_HELD, UPDATE_GAVE_UP, SERVER_*
 */
export async function rotateDelegation(
  opts: RotateBase & { role: string; keys: readonly TufKey[]; threshold?: number },
): Promise<UpdateResult> {
  const role = checkDelegationRole(opts.role);
  const parent = parentRole(role);
  return loop(opts, async (attempt, now) => {
    const { repo } = attempt;
    const parentFile = repo.targets.get(parent)?.signed;
    const entry = parentFile?.delegationRoles.find((d) => d.name === role);
    if (!parentFile || !entry) {
      throw new NotaryHsmError('ROLE_MISSING', `${repo.gun} has no delegation ${role}`, {
        details: { role },
      });
    }
    const threshold = opts.threshold ?? Math.min(entry.threshold, opts.keys.length);
    checkThreshold(threshold, opts.keys.length, role);
    const roles = parentFile.delegationRoles.map((d) =>
      d.name === role
        ? { name: d.name, paths: d.paths, keyIds: opts.keys.map((k) => k.id), threshold }
        : d,
    );
    const keys = new Map(parentFile.delegationKeys);
    for (const k of opts.keys) keys.set(k.id, k);
    const used = new Set(roles.flatMap((r) => r.keyIds));
    for (const id of [...keys.keys()]) if (!used.has(id)) keys.delete(id);
    const nextParent = parentFile.with({
      delegationRoles: roles,
      delegationKeys: keys,
      version: attempt.version(parent, parentFile.version),
      expires: GoTime.daysFromNow(TARGETS_DAYS, now),
    });
    return signAll(attempt, opts.signing, opts.gun, [
      { role: parent, signed: nextParent, requirements: [targetsRequirement(repo, parent, now)] },
      {
        role,
        signed: resigned(repo, attempt, role, now),
        requirements: [{ role, keys: [...opts.keys], threshold }],
      },
    ]);
  });
}

/**
 * Has the server make a new snapshot or timestamp key, and root list it.
 * throws: KEY_NOT_HELD, UPDATE_GAVE_UP, SERVER_*
 */
export async function rotateServerKey(
  opts: RotateBase & { role: 'snapshot' | 'timestamp'; rotate: () => Promise<Buffer> },
): Promise<UpdateResult> {
  const key = TufKey.fromJson(parseJson(await opts.rotate()), `/${opts.role}.key`);
  return loop(opts, async (attempt, now) => {
    const { repo } = attempt;
    const root = nextRoot(attempt, opts.role, [key], 1, now);
    const rootReq = baseRequirement(repo.root.signed, 'root', repo.gun, now);
    return signAll(attempt, opts.signing, opts.gun, [
      { role: 'root', signed: root, requirements: [rootReq] },
    ]);
  });
}
