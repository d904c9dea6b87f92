/**
 * Targets metadata, for the top-level `targets` role and every delegation (Notary uses
 * `_type: "Targets"` for both): the targets a role signs, and the roles it delegates to
 * with their keys, thresholds and path prefixes. Go always writes `delegations` (empty
 * as `{"keys":{},"roles":[]}`) and omits a role's `paths` when it is empty.
 *
 * Go writes a nil list or map as `null`, and reading `null` gives it back nil, so a
 * `null` survives every re-serialisation. The stock CLI leaves `"roles":null` after
 * removing the last delegation of a role and `"keyids":null` after removing a
 * delegation's last key; `"keys":null` is what a nil key map becomes. The model keeps
 * these (as empty collections marked nil) so that a file read writes back the identical
 * bytes, and changing its targets writes what Go would. `"paths":null` is refused: Go
 * omits a nil `paths`, so such a file cannot be reproduced.
 *
 * Target names are any string Go can write: not empty (for what we add), no control
 * characters U+0000–U+001F (Go's canonical JSON writes them raw and the envelope then
 * fails), no lone surrogates (they are not UTF-8). `targetNameProblem` is the one check.
 */
import { NotaryHsmError } from '../errors';
import { canonicalJson, canonicalString, isRepresentable, sortCanonical } from './canonical';
import { keysJson, readCommon, readRoleKeys, roleKeysJson, type RoleKeys } from './common';
import { asArray, asMembers, asObject, asString, asStringArray, at, fieldValue } from './fields';
import { FileMeta } from './file-meta';
import { KeptTargets } from './kept-targets';
import { TargetTexts } from './target-texts';
import {
  isJsonObject,
  jsonEqual,
  setMember,
  type Defer,
  type Deferred,
  type JsonObject,
  type JsonValue,
} from './json';
import type { TufKey } from './keys';
import { readKeyMap } from './root';
import { isTargetsRole, parentRole } from './roles';
import type { GoTime } from './time';

/** A role `targets` (or a delegation) hands signing rights to. */
export interface DelegatedRole extends RoleKeys {
  readonly name: string;
  readonly paths: readonly string[];
  /** The file says `"keyids":null` (Go's nil list; no key IDs): written back as null. */
  readonly nilKeyIds?: boolean;
}

export interface TargetsInit {
  expires: GoTime;
  version: number;
  /** The targets, or a parsed file's members kept as they are (kept-targets.ts). */
  targets: ReadonlyMap<string, FileMeta> | KeptTargets;
  /** `null`: Go's nil map, written `"keys":null`. Default: none (`{}`). */
  delegationKeys?: ReadonlyMap<string, TufKey> | null;
  /** `null`: Go's nil list, written `"roles":null`. Default: none (`[]`). */
  delegationRoles?: readonly DelegatedRole[] | null;
}

/**
 * Why Go cannot write `name` as a target name we add, or undefined when it can: the
 * empty name, a control character U+0000–U+001F, a lone surrogate (not UTF-8).
 */
export function targetNameProblem(name: string): string | undefined {
  if (name === '') return 'a target name cannot be empty';
  // The rule the canonical encoder enforces on every string.
  if (isRepresentable(name)) return undefined;
  // eslint-disable-next-line no-control-regex -- the characters Go writes raw
  const control = /[\u0000-\u001f]/.exec(name)?.[0];
  return control === undefined
    ? 'a target name cannot hold a lone surrogate (it is not UTF-8)'
    : `a target name cannot hold the control character U+${control
        .charCodeAt(0)
        .toString(16)
        .toUpperCase()
        .padStart(4, '0')}`;
}

/**
 * `name`, if Go can write it as a target name.
 * throws: TARGET_INVALID
 */
export function checkTargetName(name: string): string {
  const problem = targetNameProblem(name);
  if (problem !== undefined) {
    throw new NotaryHsmError('TARGET_INVALID', `${JSON.stringify(name)}: ${problem}`, {
      details: { target: name },
    });
  }
  return name;
}

/**
 * How the JSON reader hands a `signed` object's targets over unparsed (json.ts `defer`):
 * as kept targets read from their canonical text, for Targets.fromJson.
 */
export const DEFER_TARGETS: Defer<KeptTargets> = {
  member: 'targets',
  read: (text, start) => KeptTargets.readAt(text, start),
};

export class Targets {
  readonly expires: GoTime;
  readonly version: number;
  /** Set when the targets are kept as their text (kept-targets.ts). */
  private readonly kept: KeptTargets | undefined;
  /**
   * The parsed targets object the kept targets were read from (JSON.parse's, or the empty
   * object the JSON reader left in place of their text): a value holding it holds them.
   */
  private readFrom: JsonObject | undefined;
  private map: ReadonlyMap<string, FileMeta> | undefined;
  readonly delegationKeys: ReadonlyMap<string, TufKey>;
  readonly delegationRoles: readonly DelegatedRole[];
  /** `delegations.keys` is Go's nil map (`null`); `delegationKeys` is then empty. */
  readonly nilDelegationKeys: boolean;
  /** `delegations.roles` is Go's nil list (`null`); `delegationRoles` is then empty. */
  readonly nilDelegationRoles: boolean;

  constructor(init: TargetsInit) {
    this.expires = init.expires;
    this.version = init.version;
    if (init.targets instanceof KeptTargets) this.kept = init.targets;
    else this.map = init.targets;
    this.delegationKeys = init.delegationKeys ?? new Map();
    this.delegationRoles = init.delegationRoles ?? [];
    this.nilDelegationKeys = init.delegationKeys === null;
    this.nilDelegationRoles = init.delegationRoles === null;
  }

  /**
   * Parses the `signed` object of role `role` (`targets` or `targets/…`); `deferred`: its
   * targets as the JSON reader read them from their text (DEFER_TARGETS), when it did.
   * throws: TYPE_MISMATCH, FIELD_*, KEY_ID_MISMATCH, ROLE_NAME_INVALID, EXPIRES_INVALID
   */
  static fromJson(
    v: JsonValue,
    role: string,
    path = '/signed',
    deferred?: Deferred<KeptTargets>,
  ): Targets {
    if (!isTargetsRole(role)) {
      throw new NotaryHsmError(
        'ROLE_NAME_INVALID',
        `${JSON.stringify(role)} is not a targets role`,
      );
    }
    const o = asObject(v, path, ['_type', 'delegations', 'expires', 'targets', 'version']);
    const common = readCommon(o, path, 'Targets');
    const tPath = at(path, 'targets');
    const members = asMembers(o.targets, tPath);
    let targets: Map<string, FileMeta> | KeptTargets | undefined =
      deferred?.holder === members ? deferred.value : KeptTargets.of(members);
    if (targets === undefined) {
      targets = new Map<string, FileMeta>();
      const names = Object.keys(members);
      for (let i = 0; i < names.length; i++) {
        const name = names[i] as string;
        targets.set(name, FileMeta.fromJson(members[name], tPath, name));
      }
    }
    const dPath = at(path, 'delegations');
    const d = asObject(o.delegations, dPath, ['keys', 'roles']);
    const delegationKeys = d.keys === null ? null : readKeyMap(d.keys, at(dPath, 'keys'));
    const delegationRoles =
      d.roles === null
        ? null
        : asArray(d.roles, at(dPath, 'roles')).map((rv, i) =>
            readDelegatedRole(rv, at(at(dPath, 'roles'), i), role, delegationKeys ?? new Map()),
          );
    const seen = new Set<string>();
    delegationRoles?.forEach((r, i) => {
      if (seen.has(r.name))
        fieldValue(at(at(dPath, 'roles'), i), `role ${r.name} is delegated twice`);
      seen.add(r.name);
    });
    const model = new Targets({ ...common, targets, delegationKeys, delegationRoles });
    if (model.kept) model.readFrom = members;
    return model;
  }

  /** The targets by name (a kept file's are modelled on first use). */
  get targets(): ReadonlyMap<string, FileMeta> {
    this.map ??= (this.kept as KeptTargets).toMap('/signed/targets');
    return this.map;
  }

  /** The target names, in canonical order when kept (without modelling the targets). */
  targetNames(): readonly string[] {
    return this.kept ? this.kept.names : [...(this.map as ReadonlyMap<string, FileMeta>).keys()];
  }

  /** How many targets there are. */
  get targetCount(): number {
    return this.kept ? this.kept.names.length : (this.map as ReadonlyMap<string, FileMeta>).size;
  }

  /** The target of this name, if listed (one target: the others stay unmodelled). */
  target(name: string): FileMeta | undefined {
    if (this.map !== undefined || this.kept === undefined) return this.targets.get(name);
    return this.kept.meta(name, '/signed/targets');
  }

  /** Whether a target of this name is listed. */
  hasTarget(name: string): boolean {
    return this.kept ? this.kept.has(name) : (this.map as ReadonlyMap<string, FileMeta>).has(name);
  }

  /**
   * A copy with `add` set and `remove` (names) taken out, and the other fields replaced by
   * `changes`; kept targets stay kept when the added ones can be.
   */
  withTargets(
    add: ReadonlyMap<string, FileMeta> | undefined,
    remove: readonly string[],
    changes: Partial<Omit<TargetsInit, 'targets'>>,
  ): Targets {
    // Targets added as text go in as text (target-texts.ts).
    const kept = this.kept?.with((add instanceof TargetTexts && add.kept()) || add, remove);
    if (kept) return this.with({ ...changes, targets: kept });
    // forEach, not `new Map(map)` or `for…of` over entries: with 10,000 targets in a fresh
    // process, those make an entry array each and take several times as long.
    const next = new Map<string, FileMeta>();
    this.targets.forEach((meta, name) => next.set(name, meta));
    for (const name of remove) next.delete(name);
    add?.forEach((meta, name) => next.set(name, meta));
    return this.with({ ...changes, targets: next });
  }

  /** The Go field set of `signed`. */
  toJson(): JsonObject {
    // Kept targets: their text parsed (JSON.parse defines a `__proto__` member as its own).
    const targets = this.kept ? (JSON.parse(this.kept.text()) as JsonObject) : {};
    if (!this.kept) this.targets.forEach((meta, name) => setMember(targets, name, meta.toJson()));
    return { ...this.toJsonWithout(), targets };
  }

  /**
   * canonicalJson(this.toJson()), written without building the targets' JSON: each
   * target's name and meta are written in canonical form and joined in canonical order.
   * throws: CANONICAL_UNREPRESENTABLE
   */
  canonicalText(): string {
    const head = canonicalJson(this.membersBeforeTargets()).slice(0, -1);
    const version = canonicalJson(this.version);
    return `${head},"targets":${this.targetsText()},"version":${version}}`;
  }

  /** The canonical text of the `targets` object: kept members as they are, else each written. */
  private targetsText(): string {
    if (this.kept) return this.kept.text();
    const names = sortCanonical([...this.targets.keys()]);
    const members = new Array<string>(names.length);
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      members[i] =
        canonicalString(name) + ':' + (this.targets.get(name) as FileMeta).canonicalText();
    }
    return `{${members.join(',')}}`;
  }

  /** The Go field set of `signed` with `targets` left empty (members in canonical order). */
  private toJsonWithout(): JsonObject {
    return { ...this.membersBeforeTargets(), targets: {}, version: this.version };
  }

  /** `_type`, `delegations` and `expires`: the members canonical order puts before `targets`. */
  private membersBeforeTargets(): JsonObject {
    return {
      _type: 'Targets',
      delegations: this.delegationsJson(),
      expires: this.expires.toString(),
    };
  }

  /**
   * Whether `v` is the JSON value toJson() writes (`jsonEqual(this.toJson(), v)`), decided
   * without writing the targets: a 10,000-target request is compared, not re-built.
   */
  reproducedBy(v: JsonValue): boolean {
    if (!isJsonObject(v)) return false;
    const { targets, ...rest } = v;
    if (!isJsonObject(targets) || !Object.prototype.hasOwnProperty.call(v, 'targets')) {
      return false;
    }
    const others = this.toJsonWithout();
    delete others.targets;
    if (!jsonEqual(others, rest)) return false;
    // Kept targets read from this very object (or its text) are what the model writes.
    if (this.kept !== undefined && this.readFrom === targets) return true;
    if (Object.keys(targets).length !== this.targetCount) return false;
    // forEach rather than `for…of` over entries (an array each, 10,000 in a large request).
    let same = true;
    this.targets.forEach((meta, name) => {
      same &&=
        Object.prototype.hasOwnProperty.call(targets, name) && meta.reproducedBy(targets[name]);
    });
    return same;
  }

  /** The Go field set of `signed.delegations` alone (no pass over the targets). */
  delegationsJson(): JsonObject {
    return {
      keys: this.nilDelegationKeys ? null : keysJson(this.delegationKeys),
      roles: this.nilDelegationRoles
        ? null
        : this.delegationRoles.map((r) => {
            const out = roleKeysJson(r);
            if (r.nilKeyIds === true && r.keyIds.length === 0) out.keyids = null;
            out.name = r.name;
            if (r.paths.length > 0) out.paths = [...r.paths];
            return out;
          }),
    };
  }

  /** A copy with some fields replaced (a nil `keys` or `roles` stays nil unless replaced). */
  with(changes: Partial<TargetsInit>): Targets {
    return new Targets({
      expires: this.expires,
      version: this.version,
      targets: this.kept ?? (this.map as ReadonlyMap<string, FileMeta>),
      delegationKeys: this.nilDelegationKeys ? null : this.delegationKeys,
      delegationRoles: this.nilDelegationRoles ? null : this.delegationRoles,
      ...changes,
    });
  }

  /** The keys of a delegated role. */
  keysOf(role: DelegatedRole): TufKey[] {
    return role.keyIds.map((id) => {
      const key = this.delegationKeys.get(id);
      if (!key)
        throw new NotaryHsmError('ROLE_MISSING', `${role.name} names key ${id} that is not listed`);
      return key;
    });
  }
}

function readDelegatedRole(
  v: JsonValue,
  path: string,
  parent: string,
  keys: ReadonlyMap<string, TufKey>,
): DelegatedRole {
  const o = asObject(v, path, ['keyids', 'name', 'threshold'], ['paths']);
  const nilKeyIds = o.keyids === null;
  const name = asString(o.name, at(path, 'name'));
  if (!isTargetsRole(name) || name === 'targets' || parentRole(name) !== parent) {
    throw new NotaryHsmError(
      'ROLE_NAME_INVALID',
      `${at(path, 'name')}: ${JSON.stringify(name)} is not a delegation directly under ${parent}`,
      { details: { path: at(path, 'name') } },
    );
  }
  const paths = o.paths === undefined ? [] : asStringArray(o.paths, at(path, 'paths'));
  if (o.paths !== undefined && paths.length === 0) {
    fieldValue(at(path, 'paths'), 'an empty list is dropped by Go; omit it');
  }
  const roleKeys = readRoleKeys(nilKeyIds ? { ...o, keyids: [] } : o, path, keys);
  return { ...roleKeys, name, paths, ...(nilKeyIds ? { nilKeyIds } : {}) };
}
