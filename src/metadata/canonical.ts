/**
 * The one place that turns values into canonical JSON, as Notary's Go encoder
 * (docker/go canonical/json) writes it: members sorted by the UTF-8 bytes of their
 * names, no whitespace, integers only, and strings escaping only `"` and `\`. These
 * are the bytes every Notary signature covers. A value canonical JSON cannot carry
 * (a fraction, a control character, a lone surrogate) is an error, never a guess.
 */
import { NotaryHsmError } from '../errors';
import type { JsonValue } from './json';

/** Orders strings as Go's `<` does: by UTF-8 bytes, i.e. by code point. */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

// Control characters (Go writes them raw, which no JSON reader accepts) and lone surrogates.
const UNREPRESENTABLE =
  // eslint-disable-next-line no-control-regex -- these are exactly the characters to refuse
  /[\u0000-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// eslint-disable-next-line no-control-regex -- a control character or any surrogate
const SUSPECT = /[\u0000-\u001f\ud800-\udfff]/;

/** Whether canonical JSON can carry `s`: no control character, no lone surrogate. */
export function isRepresentable(s: string): boolean {
  return !SUSPECT.test(s) || !UNREPRESENTABLE.test(s);
}

/**
 * Whether every one of `names` holds no control character and no surrogate at all: one
 * test of them joined by spaces (a space is neither, and keeps two halves of a pair apart)
 * instead of one per name. False says nothing: check each then (isRepresentable).
 */
export function allPlain(names: readonly string[]): boolean {
  return !SUSPECT.test(names.join(' '));
}

/** Canonical form of one string (JSON.stringify escapes only `"`, `\` and controls). */
export function canonicalString(s: string): string {
  // One character class first: the precise test (paired surrogates are fine) is slower.
  if (!isRepresentable(s)) {
    throw new NotaryHsmError(
      'CANONICAL_UNREPRESENTABLE',
      `string ${JSON.stringify(s)} holds a control character or lone surrogate`,
    );
  }
  return JSON.stringify(s);
}

const SURROGATE = /[\ud800-\udfff]/;

/** Whether `s` holds a surrogate (half of a pair, or a lone one). */
export function hasSurrogate(s: string): boolean {
  return SURROGATE.test(s);
}

/**
 * Whether `names` are in strictly increasing canonical (code point) order, so that no
 * name repeats. Code unit order (`<`) is code point order unless a surrogate is involved.
 */
export function inCanonicalOrder(names: readonly string[]): boolean {
  const surrogates = names.some(hasSurrogate);
  for (let i = 1; i < names.length; i++) {
    const a = names[i - 1] as string;
    const b = names[i] as string;
    if (surrogates ? compareUtf8(a, b) >= 0 : !(a < b)) return false;
  }
  return true;
}

/** Sorts member names into canonical order, in place (names already in order are left as they are). */
export function sortCanonical(names: string[]): string[] {
  if (inCanonicalOrder(names)) return names;
  return names.sort(names.some(hasSurrogate) ? compareUtf8 : undefined);
}

/**
 * Canonical JSON text of `value`.
 * throws: CANONICAL_UNREPRESENTABLE
 */
export function canonicalJson(value: JsonValue): string {
  return inCanonicalForm(value) ? JSON.stringify(value) : encode(value);
}

/**
 * Whether JSON.stringify writes `value` canonically: every object's members already in
 * canonical order (JSON.stringify keeps property order), every number a safe integer,
 * every string free of control characters and surrogates (then JSON.stringify escapes
 * only `"` and `\`). A parsed canonical file and the models' own JSON are; for anything
 * else (including integer-like member names, which objects order numerically) the
 * encoder below sorts and checks as it writes.
 */
function inCanonicalForm(value: JsonValue): boolean {
  switch (typeof value) {
    case 'string':
      return !SUSPECT.test(value);
    case 'number':
      return Number.isSafeInteger(value);
    case 'boolean':
      return true;
    default:
      break;
  }
  if (value === null) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++)
      if (!inCanonicalForm(value[i] as JsonValue)) return false;
    return true;
  }
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    // Without surrogates, code unit order (`<`) is code point order.
    if (SUSPECT.test(k) || (i > 0 && !((keys[i - 1] as string) < k))) return false;
    if (!inCanonicalForm(value[k] as JsonValue)) return false;
  }
  return true;
}

function encode(value: JsonValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new NotaryHsmError(
          'CANONICAL_UNREPRESENTABLE',
          `number ${String(value)} is not an integer canonical JSON can carry`,
        );
      }
      return String(value);
    case 'string':
      return canonicalString(value);
    default:
      break;
  }
  if (Array.isArray(value)) return '[' + value.map(encode).join(',') + ']';
  const keys = sortCanonical(Object.keys(value));
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (i > 0) out += ',';
    out += canonicalString(k) + ':' + encode(value[k] as JsonValue);
  }
  return out + '}';
}

/** Canonical JSON bytes of `value`: what a Notary signature signs. */
export function canonicalBytes(value: JsonValue): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
