/**
 * Targets metadata, for the top-level `targets` role and every delegation (Notary uses
 * `_type: "Targets"` for both): the targets a role signs, and the roles it delegates to
 * with their keys, thresholds and path prefixes. Go always writes `delegations` (empty
 * as `{"keys":{},"roles":[]}`) and omits a role's `paths` when it is empty.
 */
import { NotaryHsmError } from '../errors';
import { keysJson, readCommon, readRoleKeys, roleKeysJson, type RoleKeys } from './common';
import { asArray, asMap, asObject, asString, asStringArray, at, fieldValue } from './fields';
import { FileMeta } from './file-meta';
import { setMember, type JsonObject, type JsonValue } from './json';
import type { TufKey } from './keys';
import { readKeyMap } from './root';
import { isTargetsRole, parentRole } from './roles';
import type { GoTime } from './time';

/** A role `targets` (or a delegation) hands signing rights to. */
export interface DelegatedRole extends RoleKeys {
  readonly name: string;
  readonly paths: readonly string[];
}

export interface TargetsInit {
  expires: GoTime;
  version: number;
  targets: ReadonlyMap<string, FileMeta>;
  delegationKeys?: ReadonlyMap<string, TufKey>;
  delegationRoles?: readonly DelegatedRole[];
}

export class Targets {
  readonly expires: GoTime;
  readonly version: number;
  readonly targets: ReadonlyMap<string, FileMeta>;
  readonly delegationKeys: ReadonlyMap<string, TufKey>;
  readonly delegationRoles: readonly DelegatedRole[];

  constructor(init: TargetsInit) {
    this.expires = init.expires;
    this.version = init.version;
    this.targets = init.targets;
    this.delegationKeys = init.delegationKeys ?? new Map();
    this.delegationRoles = init.delegationRoles ?? [];
  }

  /**
   * Parses the `signed` object of role `role` (`targets` or `targets/…`).
   * throws: TYPE_MISMATCH, FIELD_*, KEY_ID_MISMATCH, ROLE_NAME_INVALID, EXPIRES_INVALID
   */
  static fromJson(v: JsonValue, role: string, path = '/signed'): Targets {
    if (!isTargetsRole(role)) {
      throw new NotaryHsmError(
        'ROLE_NAME_INVALID',
        `${JSON.stringify(role)} is not a targets role`,
      );
    }
    const o = asObject(v, path, ['_type', 'delegations', 'expires', 'targets', 'version']);
    const common = readCommon(o, path, 'Targets');
    const targets = new Map<string, FileMeta>();
    for (const [name, meta] of asMap(o.targets, at(path, 'targets'))) {
      targets.set(name, FileMeta.fromJson(meta, at(at(path, 'targets'), name)));
    }
    const dPath = at(path, 'delegations');
    const d = asObject(o.delegations, dPath, ['keys', 'roles']);
    const delegationKeys = readKeyMap(d.keys, at(dPath, 'keys'));
    const delegationRoles = asArray(d.roles, at(dPath, 'roles')).map((rv, i) =>
      readDelegatedRole(rv, at(at(dPath, 'roles'), i), role, delegationKeys),
    );
    const seen = new Set<string>();
    delegationRoles.forEach((r, i) => {
      if (seen.has(r.name))
        fieldValue(at(at(dPath, 'roles'), i), `role ${r.name} is delegated twice`);
      seen.add(r.name);
    });
    return new Targets({ ...common, targets, delegationKeys, delegationRoles });
  }

  /** The Go field set of `signed`. */
  toJson(): JsonObject {
    const targets: JsonObject = {};
    for (const [name, meta] of this.targets) setMember(targets, name, meta.toJson());
    return {
      _type: 'Targets',
      delegations: {
        keys: keysJson(this.delegationKeys),
        roles: this.delegationRoles.map((r) => {
          const out = roleKeysJson(r);
          out.name = r.name;
          if (r.paths.length > 0) out.paths = [...r.paths];
          return out;
        }),
      },
      expires: this.expires.toString(),
      targets,
      version: this.version,
    };
  }

  /** A copy with some fields replaced. */
  with(changes: Partial<TargetsInit>): Targets {
    return new Targets({
      expires: this.expires,
      version: this.version,
      targets: this.targets,
      delegationKeys: this.delegationKeys,
      delegationRoles: this.delegationRoles,
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
  return { ...readRoleKeys(o, path, keys), name, paths };
}
