/**
 * Root metadata: the keys of the four base roles and who signs each. Parsing checks the
 * structure Notary requires (all four roles, thresholds >= 1, every listed key present
 * and filed under its true ID); trust decisions (signatures, certificates) are made in
 * verify.ts, not here.
 */
import { NotaryHsmError } from '../errors';
import { readCommon, readRoleKeys, roleKeysJson, keysJson, type RoleKeys } from './common';
import { asBool, asMap, asObject, at } from './fields';
import type { JsonObject, JsonValue } from './json';
import { TufKey } from './keys';
import { BASE_ROLES, type BaseRole } from './roles';
import type { GoTime } from './time';

export interface RootInit {
  expires: GoTime;
  version: number;
  keys: ReadonlyMap<string, TufKey>;
  roles: ReadonlyMap<BaseRole, RoleKeys>;
  consistentSnapshot?: boolean;
}

export class Root {
  readonly expires: GoTime;
  readonly version: number;
  readonly keys: ReadonlyMap<string, TufKey>;
  readonly roles: ReadonlyMap<BaseRole, RoleKeys>;
  readonly consistentSnapshot: boolean;

  constructor(init: RootInit) {
    this.expires = init.expires;
    this.version = init.version;
    this.keys = init.keys;
    this.roles = init.roles;
    this.consistentSnapshot = init.consistentSnapshot ?? false;
  }

  /** throws: TYPE_MISMATCH, FIELD_*, KEY_ID_MISMATCH, EXPIRES_INVALID, BASE64_INVALID */
  static fromJson(v: JsonValue, path = '/signed'): Root {
    const o = asObject(v, path, [
      '_type',
      'consistent_snapshot',
      'expires',
      'keys',
      'roles',
      'version',
    ]);
    const common = readCommon(o, path, 'Root');
    const keys = readKeyMap(o.keys, at(path, 'keys'));
    const rolesPath = at(path, 'roles');
    const ro = asObject(o.roles, rolesPath, BASE_ROLES);
    const roles = new Map<BaseRole, RoleKeys>();
    for (const name of BASE_ROLES) {
      const p = at(rolesPath, name);
      roles.set(name, readRoleKeys(asObject(ro[name], p, ['keyids', 'threshold']), p, keys));
    }
    return new Root({
      ...common,
      keys,
      roles,
      consistentSnapshot: asBool(o.consistent_snapshot, at(path, 'consistent_snapshot')),
    });
  }

  /** The Go field set of `signed`. */
  toJson(): JsonObject {
    const roles: JsonObject = {};
    for (const [name, r] of this.roles) roles[name] = roleKeysJson(r);
    return {
      _type: 'Root',
      consistent_snapshot: this.consistentSnapshot,
      expires: this.expires.toString(),
      keys: keysJson(this.keys),
      roles,
      version: this.version,
    };
  }

  /** The keys and threshold of a base role. */
  role(name: BaseRole): RoleKeys {
    const r = this.roles.get(name);
    if (!r) throw new NotaryHsmError('ROLE_MISSING', `root lists no ${name} role`);
    return r;
  }

  /** The TUF keys of a base role. throws: ROLE_MISSING when root lists a key it does not hold */
  roleKeys(name: BaseRole): TufKey[] {
    return this.role(name).keyIds.map((id) => {
      const key = this.keys.get(id);
      if (!key)
        throw new NotaryHsmError(
          'ROLE_MISSING',
          `root names key ${id} for ${name} but does not list it`,
        );
      return key;
    });
  }
}

/**
 * A `{id: key}` map whose IDs are the keys' true IDs.
 * throws: KEY_ID_MISMATCH, FIELD_*, BASE64_INVALID
 */
export function readKeyMap(v: JsonValue | undefined, path: string): Map<string, TufKey> {
  const keys = new Map<string, TufKey>();
  for (const [id, kv] of asMap(v, path)) {
    const key = TufKey.fromJson(kv, at(path, id));
    if (key.id !== id) {
      throw new NotaryHsmError('KEY_ID_MISMATCH', `${at(path, id)}: the key's ID is ${key.id}`, {
        details: { path: at(path, id), listed: id, actual: key.id },
      });
    }
    keys.set(id, key);
  }
  return keys;
}
