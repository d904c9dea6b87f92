/**
 * Field-by-field guards for parsing metadata. Every guard names the JSON pointer of the
 * value it rejects, so a malformed file is reported as "/signed/keys/ab…/keyval/public:
 * not base64" rather than a stack trace. Objects are checked for missing and unknown
 * members together: Go drops members it does not define, so a file carrying one could
 * never be reproduced byte for byte and is refused.
 */
import { NotaryHsmError } from '../errors';
import { isJsonObject, type JsonObject, type JsonValue } from './json';

function typeName(v: JsonValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

export function fieldType(path: string, expected: string, got: JsonValue | undefined): never {
  throw new NotaryHsmError('FIELD_TYPE', `${path}: expected ${expected}, got ${typeName(got)}`, {
    details: { path },
  });
}

export function fieldValue(path: string, problem: string): never {
  throw new NotaryHsmError('FIELD_VALUE', `${path}: ${problem}`, { details: { path } });
}

/** Child pointer (RFC 6901 escaping). */
export function at(path: string, key: string | number): string {
  const k = String(key);
  if (!k.includes('~') && !k.includes('/')) return path + '/' + k;
  return `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/**
 * An object with exactly the `required` members and any of the `optional` ones.
 * throws: FIELD_TYPE, FIELD_MISSING, FIELD_UNKNOWN
 */
export function asObject(
  v: JsonValue | undefined,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): JsonObject {
  if (!isJsonObject(v)) fieldType(path, 'an object', v);
  for (const name of required) {
    if (!Object.prototype.hasOwnProperty.call(v, name)) {
      throw new NotaryHsmError('FIELD_MISSING', `${at(path, name)}: missing`, {
        details: { path: at(path, name) },
      });
    }
  }
  for (const name of Object.keys(v)) {
    if (!required.includes(name) && !optional.includes(name)) {
      throw new NotaryHsmError('FIELD_UNKNOWN', `${at(path, name)}: not a Notary v1 field`, {
        details: { path: at(path, name) },
      });
    }
  }
  return v;
}

/** An object used as a map (any member names), as it is (no entry list is built). */
export function asMembers(v: JsonValue | undefined, path: string): JsonObject {
  if (!isJsonObject(v)) fieldType(path, 'an object', v);
  return v;
}

/** An object used as a map (any member names); entries in file order. */
export function asMap(v: JsonValue | undefined, path: string): [string, JsonValue][] {
  if (!isJsonObject(v)) fieldType(path, 'an object', v);
  return Object.keys(v).map((k) => [k, v[k] as JsonValue]);
}

export function asString(v: JsonValue | undefined, path: string): string {
  if (typeof v !== 'string') fieldType(path, 'a string', v);
  return v;
}

export function asBool(v: JsonValue | undefined, path: string): boolean {
  if (typeof v !== 'boolean') fieldType(path, 'a boolean', v);
  return v;
}

export function asArray(v: JsonValue | undefined, path: string): JsonValue[] {
  if (!Array.isArray(v)) fieldType(path, 'an array', v);
  return v;
}

/** An integer in [min, max] (bounded by 2^53 so JavaScript holds it exactly). */
export function asInt(
  v: JsonValue | undefined,
  path: string,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof v !== 'number') fieldType(path, 'an integer', v);
  if (!Number.isSafeInteger(v)) fieldValue(path, `${String(v)} is not an integer below 2^53`);
  if (v < min || v > max) fieldValue(path, `${v} is outside [${min}, ${max}]`);
  return v;
}

export function asStringArray(v: JsonValue | undefined, path: string): string[] {
  return asArray(v, path).map((x, i) => asString(x, at(path, i)));
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A Notary key ID: 64 lowercase hex digits. */
export function asKeyId(v: JsonValue | undefined, path: string): string {
  const s = asString(v, path);
  if (!HEX64.test(s)) fieldValue(path, 'not a key ID (64 lowercase hex digits)');
  return s;
}

export function isKeyId(s: string): boolean {
  return HEX64.test(s);
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Padded standard base64, in its one canonical spelling (so that re-encoding
 * reproduces the input).
 * throws: FIELD_TYPE, BASE64_INVALID
 */
export function asBase64(v: JsonValue | undefined, path: string): Buffer {
  const s = asString(v, path);
  const bytes = B64.test(s) ? Buffer.from(s, 'base64') : undefined;
  if (bytes === undefined || bytes.toString('base64') !== s) {
    throw new NotaryHsmError('BASE64_INVALID', `${path}: not padded standard base64`, {
      details: { path },
    });
  }
  return bytes;
}
