/**
 * What every Notary `signed` object shares: its `_type`, `expires` and `version`, and
 * the role entries (`keyids` + `threshold`) by which a parent names who may sign.
 */
import { NotaryHsmError } from '../errors';
import { asArray, asInt, asKeyId, asString, at, fieldValue } from './fields';
import type { JsonObject, JsonValue } from './json';
import { GoTime } from './time';

export type MetadataType = 'Root' | 'Targets' | 'Snapshot' | 'Timestamp';

export interface CommonFields {
  readonly expires: GoTime;
  readonly version: number;
}

/** throws: TYPE_MISMATCH, EXPIRES_INVALID, FIELD_* */
export function readCommon(o: JsonObject, path: string, type: MetadataType): CommonFields {
  const t = asString(o._type, at(path, '_type'));
  if (t !== type) {
    throw new NotaryHsmError(
      'TYPE_MISMATCH',
      `${at(path, '_type')}: expected "${type}", got ${JSON.stringify(t)}`,
      {
        details: { path: at(path, '_type'), expected: type, actual: t },
      },
    );
  }
  return {
    expires: GoTime.parse(asString(o.expires, at(path, 'expires')), at(path, 'expires')),
    version: asInt(o.version, at(path, 'version'), 1),
  };
}

/** Who may sign a role: key IDs and how many of them must. */
export interface RoleKeys {
  readonly keyIds: readonly string[];
  readonly threshold: number;
}

/** Reads `keyids` (distinct key IDs listed in `known`) and `threshold` (>= 1). */
export function readRoleKeys(
  o: JsonObject,
  path: string,
  known: ReadonlyMap<string, unknown>,
): RoleKeys {
  const keyIds = asArray(o.keyids, at(path, 'keyids')).map((v, i) =>
    asKeyId(v, at(at(path, 'keyids'), i)),
  );
  const seen = new Set<string>();
  keyIds.forEach((id, i) => {
    if (!known.has(id)) fieldValue(at(at(path, 'keyids'), i), `key ${id} is not listed in keys`);
    if (seen.has(id)) fieldValue(at(at(path, 'keyids'), i), `key ${id} is listed twice`);
    seen.add(id);
  });
  return { keyIds, threshold: asInt(o.threshold, at(path, 'threshold'), 1) };
}

export function roleKeysJson(r: RoleKeys): JsonObject {
  return { keyids: [...r.keyIds], threshold: r.threshold };
}

/** `{id: key}` of a key map. */
export function keysJson(keys: ReadonlyMap<string, { toJson(): JsonObject }>): JsonObject {
  const out: JsonObject = {};
  for (const [id, k] of keys) out[id] = k.toJson();
  return out;
}

export type { JsonValue };
