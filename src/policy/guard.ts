/**
 * "Sign only what you understand": the checks between an authorized sign request and
 * the token. The caller's `signed` value is first walked as plain JSON (bounded depth,
 * plain objects and arrays, finite numbers), then its `_type` must fit the endpoint and
 * its role the endpoint, then it is parsed by the strict metadata models (unknown
 * members, wrong types and malformed values are refused with their own codes). The model
 * is re-serialised into the canonical bytes that will be signed; they must equal the
 * canonical form of what the caller sent, so the signature covers exactly the document
 * the caller will publish. `expires` must lie after now − skew and no further ahead than
 * the role's maximum lifetime + skew. A delegation may not delegate further, and each of
 * its targets must match one of the allowed target patterns.
 *
 * Target names are data, never object keys: the models keep targets in a Map and write
 * members with setMember, so a target named `__proto__`, `constructor` or `prototype` (all
 * legal Docker tags) is signed like any other name when the patterns allow it, and can
 * touch no prototype. In every fixed-shape object such a member is an unknown field and
 * refused (FIELD_UNKNOWN). Version rollback is checked later, by the state store.
 */
import { hash } from 'node:crypto';
import { isNotaryHsmError, NotaryHsmError } from '../errors';
import { canonicalBytes } from '../metadata/canonical';
import { isJsonObject, jsonEqual, MAX_JSON_DEPTH, type JsonValue } from '../metadata/json';
import { Root } from '../metadata/root';
import { checkDelegationRole } from '../metadata/roles';
import { Targets } from '../metadata/targets';
import type { GoTime } from '../metadata/time';
import type { SignRequest } from '../signing/types';
import { allTargetsMatch, checkGun, matchingTargetPattern, quote } from './patterns';

/** The kinds of role a policy sets limits for. */
export type RoleKind = 'root' | 'targets' | 'delegation';

/** The daemon policy's limits on what is signed. */
export interface SigningPolicy {
  /** Longest lifetime, in days from now, that metadata of each kind may claim. */
  readonly maxExpiryDays: Readonly<Record<RoleKind, number>>;
  /** Tolerance for clocks that disagree, applied at both ends of the window. */
  readonly clockSkewSeconds: number;
}

export interface GuardContext {
  readonly now: Date;
  readonly policy: SigningPolicy;
  /** Target patterns a delegation's targets must match (from authorize); absent: none. */
  readonly allowedPaths?: readonly string[];
}

/** A request that passed the guard, with the bytes to sign. */
export interface CheckedRequest {
  readonly model: Root | Targets;
  readonly version: number;
  /** Canonical JSON of the model: exactly the bytes the signatures will cover. */
  readonly canonical: Buffer;
  /** Hex SHA-256 of `canonical` (for the audit log). */
  readonly payloadDigest: string;
}

const ENDPOINTS = {
  'sign/root': { kind: 'root', type: 'Root' },
  'sign/targets': { kind: 'targets', type: 'Targets' },
  'sign/delegation': { kind: 'delegation', type: 'Targets' },
} as const satisfies Record<SignRequest['endpoint'], { kind: RoleKind; type: string }>;

/**
 * Checks a sign request against what the daemon understands and its policy.
 * throws: USAGE (unknown endpoint), GUN_INVALID, ROLE_MISMATCH, ROLE_NAME_INVALID,
 * JSON_INVALID, JSON_TOO_DEEP, WRONG_TYPE, the metadata models' FIELD_*, EXPIRES_INVALID,
 * BASE64_INVALID, KEY_*, CANONICAL_UNREPRESENTABLE, EXPIRY_OUT_OF_POLICY, FORBIDDEN
 * (a delegation delegating further), TARGET_OUTSIDE_PATHS, CONFIG_INVALID (a bad policy)
 */
export function checkSignRequest(req: SignRequest, ctx: GuardContext): CheckedRequest {
  try {
    return check(req, ctx);
  } catch (err) {
    throw bounded(err);
  }
}

/** Longest error message the guard lets out (messages reach the caller and the audit log). */
const MAX_MESSAGE = 500;

/**
 * The metadata models quote what they refuse (a 1 MB `expires`, a target name in a JSON
 * pointer); a refusal's message and details are cut to a bounded size here, so that a
 * huge request cannot make a huge answer or audit record. Other errors pass unchanged.
 */
function bounded(err: unknown): unknown {
  if (!isNotaryHsmError(err)) return err;
  const long = (v: unknown): boolean => typeof v === 'string' && v.length > MAX_MESSAGE;
  if (!long(err.message) && !Object.values(err.details).some(long)) return err;
  const cut = (v: string): string => `${v.slice(0, MAX_MESSAGE)}… (${v.length} characters)`;
  const details: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err.details)) details[k] = long(v) ? cut(v as string) : v;
  return new NotaryHsmError(err.code, long(err.message) ? cut(err.message) : err.message, {
    details,
  });
}

function check(req: SignRequest, ctx: GuardContext): CheckedRequest {
  if (!Object.prototype.hasOwnProperty.call(ENDPOINTS, req.endpoint)) {
    throw new NotaryHsmError('USAGE', `${quote(String(req.endpoint))} is not a signing endpoint`);
  }
  const { kind, type } = ENDPOINTS[req.endpoint];
  checkGun(req.gun);
  checkRole(req.endpoint, kind, req.role);
  checkPlainJson(req.signed);
  const signed = req.signed;
  if (isJsonObject(signed) && Object.prototype.hasOwnProperty.call(signed, '_type')) {
    const actual = signed._type;
    if (typeof actual === 'string' && actual !== type) {
      throw new NotaryHsmError(
        'WRONG_TYPE',
        `/signed/_type: ${req.endpoint} signs "${type}" metadata, not ${quote(actual)}`,
        { details: { path: '/signed/_type', expected: type, actual: quote(actual) } },
      );
    }
  }
  const model =
    kind === 'root'
      ? Root.fromJson(signed)
      : Targets.fromJson(signed, req.role, '/signed', req.signedTargets);
  // The bytes signed are the canonical bytes of what the model writes. The same JSON
  // value (members in any order) has the same canonical bytes, so when the model writes
  // back exactly the caller's value, those are the caller's document encoded; a targets
  // model says so without writing its targets (10,000 of them in a large request).
  // Otherwise both are encoded and must still agree byte for byte.
  let canonical: Buffer;
  if (model instanceof Targets ? model.reproducedBy(signed) : jsonEqual(model.toJson(), signed)) {
    canonical = req.signedBytes ?? canonicalBytes(signed);
  } else {
    canonical = canonicalBytes(model.toJson());
    if (!canonical.equals(req.signedBytes ?? canonicalBytes(signed))) {
      throw new NotaryHsmError(
        'FIELD_VALUE',
        '/signed: does not re-serialise to the same canonical bytes',
        { details: { path: '/signed' } },
      );
    }
  }
  checkExpiry(model.expires, kind, ctx);
  if (model instanceof Targets && kind === 'delegation') {
    checkDelegation(model, req.role, ctx.allowedPaths ?? []);
  }
  return {
    model,
    version: model.version,
    canonical,
    payloadDigest: hash('sha256', canonical, 'hex'),
  };
}

function checkRole(endpoint: SignRequest['endpoint'], kind: RoleKind, role: string): void {
  if (kind === 'delegation' && typeof role === 'string' && role.startsWith('targets/')) {
    checkDelegationRole(role);
    return;
  }
  if (role === kind) return;
  const wanted = kind === 'delegation' ? 'a delegation role (targets/<name>)' : `"${kind}"`;
  throw new NotaryHsmError(
    'ROLE_MISMATCH',
    `${endpoint} signs ${wanted}, not ${typeof role === 'string' ? quote(role) : 'that'}`,
  );
}

/**
 * Refuses anything that is not plain JSON data: a value from JSON.parse or parseJson
 * always passes; class instances, accessors' owners, undefined, non-finite numbers and
 * nesting deeper than the parser's bound do not. The recursion stops at that bound, so
 * depth cannot overflow it; nothing is allocated per value (10,000 targets are ~50,000).
 * throws: JSON_INVALID, JSON_TOO_DEEP
 */
export function checkPlainJson(value: unknown): asserts value is JsonValue {
  checkPlainAt(value, 0);
}

function notJson(what: string): never {
  throw new NotaryHsmError('JSON_INVALID', `/signed: ${what} is not JSON data`);
}

function checkPlainAt(v: unknown, depth: number): void {
  if (depth > MAX_JSON_DEPTH) {
    throw new NotaryHsmError(
      'JSON_TOO_DEEP',
      `/signed: nested deeper than ${MAX_JSON_DEPTH} levels`,
    );
  }
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) notJson(String(v));
    return;
  }
  if (typeof v !== 'object') notJson(`a value of type ${typeof v}`);
  const proto: unknown = Object.getPrototypeOf(v);
  if (Array.isArray(v)) {
    if (proto !== Array.prototype) notJson('an array subclass');
    for (let i = 0; i < v.length; i++) checkPlainAt(v[i] as unknown, depth + 1);
    return;
  }
  if (proto !== Object.prototype && proto !== null) notJson('an object with a prototype');
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) checkPlainAt(o[keys[i] as string], depth + 1);
}

/** Sign of `t − ms` (t at nanosecond precision, ms in whole milliseconds). */
function compareToMillis(t: GoTime, ms: number): number {
  const tMs = t.epochMillis;
  if (tMs !== ms) return tMs < ms ? -1 : 1;
  return t.nanos % 1_000_000 > 0 ? 1 : 0;
}

function checkExpiry(expires: GoTime, kind: RoleKind, ctx: GuardContext): void {
  const now = ctx.now.getTime();
  const days = ctx.policy.maxExpiryDays[kind];
  const skewMs = ctx.policy.clockSkewSeconds * 1000;
  if (!Number.isFinite(now) || !(days >= 0) || !(skewMs >= 0) || !Number.isFinite(days + skewMs)) {
    throw new NotaryHsmError('CONFIG_INVALID', `policy: unusable expiry limits for ${kind}`);
  }
  const notBefore = now - skewMs;
  const notAfter = now + days * 86_400_000 + skewMs;
  // The details (three formatted times) are built only for a refusal.
  const details = () => ({
    path: '/signed/expires',
    expires: expires.toString(),
    notBefore: new Date(notBefore).toISOString(),
    notAfter: new Date(notAfter).toISOString(),
  });
  if (compareToMillis(expires, notBefore) <= 0) {
    const d = details();
    throw new NotaryHsmError(
      'EXPIRY_OUT_OF_POLICY',
      `/signed/expires: ${d.expires} is not in the future (allowed clock skew ${ctx.policy.clockSkewSeconds}s)`,
      { details: d },
    );
  }
  if (compareToMillis(expires, notAfter) > 0) {
    const d = details();
    throw new NotaryHsmError(
      'EXPIRY_OUT_OF_POLICY',
      `/signed/expires: ${d.expires} is more than ${days} days ahead, the policy's limit for ${kind} metadata`,
      { details: d },
    );
  }
}

function checkDelegation(model: Targets, role: string, allowedPaths: readonly string[]): void {
  // Delegations are changed by whoever signs the parent (targets or an admin), never through
  // a delegation signer: keys alone are refused too, as they could back a later role entry.
  const key = model.delegationKeys.keys().next();
  if (!key.done) {
    throw new NotaryHsmError(
      'FORBIDDEN',
      `/signed/delegations/keys: ${role} may not list delegation keys (it names ${key.value}) through this endpoint`,
      { details: { path: '/signed/delegations/keys', role } },
    );
  }
  const child = model.delegationRoles[0];
  if (child !== undefined) {
    throw new NotaryHsmError(
      'FORBIDDEN',
      `/signed/delegations/roles: ${role} may not delegate further (it names ${child.name}) through this endpoint`,
      { details: { path: '/signed/delegations/roles', role, delegates: child.name } },
    );
  }
  if (allTargetsMatch(allowedPaths)) return;
  for (const name of model.targetNames()) {
    if (matchingTargetPattern(allowedPaths, name) === undefined) {
      throw new NotaryHsmError(
        'TARGET_OUTSIDE_PATHS',
        `/signed/targets: target ${quote(name)} lies outside the paths ${role} may sign`,
        { details: { path: '/signed/targets', target: quote(name, 200), role } },
      );
    }
  }
}
