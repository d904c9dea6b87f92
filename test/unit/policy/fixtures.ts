/**
 * Shared fixtures of the policy tests: a fixed clock and policy, and valid `signed`
 * objects for each signing endpoint (root, targets, a delegation) built from the
 * metadata models, with fresh keys.
 */
import { generateKeyPairSync } from 'node:crypto';
import { FileMeta } from '../../../src/metadata/file-meta';
import type { JsonObject } from '../../../src/metadata/json';
import { TufKey } from '../../../src/metadata/keys';
import { Root } from '../../../src/metadata/root';
import { BASE_ROLES, type BaseRole } from '../../../src/metadata/roles';
import { Targets } from '../../../src/metadata/targets';
import { GoTime } from '../../../src/metadata/time';
import type { GuardContext, SigningPolicy } from '../../../src/policy/guard';

export { prng } from '../../helpers/mutations';

export const NOW = new Date('2026-06-01T12:00:00Z');
export const DAY = 86_400_000;

export const POLICY: SigningPolicy = {
  maxExpiryDays: { root: 3650, targets: 1095, delegation: 365 },
  clockSkewSeconds: 300,
};

export const DELEGATION_ROLE = 'targets/ci-build';
export const PATHS = ['v*', 'releases/**'];

export function context(allowedPaths: readonly string[] = PATHS): GuardContext {
  return { now: NOW, policy: POLICY, allowedPaths };
}

export function newKey(): TufKey {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return TufKey.ecdsa(publicKey.export({ format: 'der', type: 'spki' }));
}

const KEYS = [newKey(), newKey(), newKey()] as const;

/** Expiry `days` days after NOW, whole seconds, UTC. */
export function expiresIn(days: number): string {
  return GoTime.daysFromNow(days, NOW).toString();
}

export function rootSigned(): JsonObject {
  const keys = new Map(KEYS.map((k) => [k.id, k]));
  const roles = new Map(
    BASE_ROLES.map((r: BaseRole, i) => [
      r,
      { keyIds: [(KEYS[Math.min(i, 2)] as TufKey).id], threshold: 1 },
    ]),
  );
  return new Root({
    expires: GoTime.parse(expiresIn(365)),
    version: 3,
    keys,
    roles,
  }).toJson();
}

function digest(seed: number): Buffer {
  return Buffer.alloc(32, seed);
}

export function targetsSigned(withDelegation = true): JsonObject {
  const k = KEYS[2];
  return new Targets({
    expires: GoTime.parse(expiresIn(90)),
    version: 7,
    targets: new Map([
      ['latest', FileMeta.sha256(digest(1), 1234)],
      ['v1.4', FileMeta.sha256(digest(2), 99)],
    ]),
    delegationKeys: withDelegation ? new Map([[k.id, k]]) : new Map(),
    delegationRoles: withDelegation
      ? [{ name: DELEGATION_ROLE, keyIds: [k.id], threshold: 1, paths: ['v'] }]
      : [],
  }).toJson();
}

export function delegationSigned(
  names: readonly string[] = ['v1.4', 'v2', 'releases/2026/06'],
): JsonObject {
  return new Targets({
    expires: GoTime.parse(expiresIn(30)),
    version: 12,
    targets: new Map(names.map((n, i) => [n, FileMeta.sha256(digest(i + 3), 10 + i)])),
  }).toJson();
}

/** A deep copy through JSON (what the daemon's body parser would hand over). */
export function copy<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
