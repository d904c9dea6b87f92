/**
 * The JSON reader's fast path (json.ts): one pass over the text finds what JSON.parse
 * would read differently from the strict reader, counts member names so that a duplicate
 * JSON.parse drops shows, and says whether one top-level member is written canonically.
 */
import { isJsonObject, MAX_JSON_DEPTH, type JsonObject, type JsonValue } from './json-value';

const SURROGATE = /[\ud800-\udfff]/;
// eslint-disable-next-line no-control-regex -- every character beyond ASCII
const NON_ASCII = /[^\u0000-\u007f]/;

/** Where a kept member's value lies in the text, and whether the text before its end is ASCII. */
export type Span = [start: number, end: number] & { ascii: boolean };

/**
 * One member of the kept value read from its own text by its own reader, not by
 * JSON.parse, nor even looked at by the scan: a large object the caller would only turn
 * back into text (json.ts).
 */
export interface Defer<T> {
  /** The member's name, directly inside the kept value; its value an object. */
  readonly member: string;
  /**
   * Reads the member's value, the object whose text starts at `text[start]`: what it reads
   * as and where its text ends (one past its closing brace); or undefined when this reader
   * cannot read it (the scan then goes through it, and JSON.parse reads the whole text). It
   * must accept only canonical JSON text (canonical.ts), in which the scan finds nothing
   * to refuse: it does not look inside what the reader accepts. It is asked only while the
   * kept value's text is canonical so far, and only when the text holds no surrogate.
   */
  readonly read: (text: string, start: number) => { value: T; end: number } | undefined;
}

/** A deferred member as read, and the empty object the parsed value holds in its place. */
export interface Deferred<T> {
  readonly holder: JsonObject;
  readonly value: T;
}

/**
 * The common case at native speed: one pass over the text, allocating nothing (but two
 * small arrays when a member is kept), finds
 * whatever JSON.parse would accept and this reader refuses (any `\\u` escape, a
 * surrogate, a fraction or exponent when only integers are allowed, nesting too deep)
 * and counts the member names; then JSON.parse builds the value (it defines a member
 * named `__proto__` as an own property), and a member lost to a duplicate shows as
 * fewer members than names counted. Undefined sends the text to the strict reader,
 * which accepts the same documents and names what it refuses.
 *
 * The same pass says whether the value of the top-level member `keep` is written in
 * canonical form (canonical.ts): no whitespace; no escape but `\"` and `\\`; integers
 * of at most 15 digits, never `-0`; each object's member names (without escapes) in
 * strictly increasing order, which also means no duplicates there. JSON.stringify and
 * the canonical encoder write exactly such a text for the value JSON.parse makes of it.
 */
export function nativeParse<T = never>(
  text: string,
  integersOnly: boolean,
  keep: string | undefined,
  defer?: Defer<T>,
): { value: JsonValue; span: Span | undefined; deferred?: Deferred<T> } | undefined {
  // A surrogate is refused by the strict reader (a lone one is not UTF-8; a pair is read
  // there too); outside a string any is invalid JSON anyway.
  if (SURROGATE.test(text)) return undefined;
  const ascii = !NON_ASCII.test(text);
  // Where the next backslash is (-1: none left), searched again once the scan passes it.
  let backslash = -2;
  let members = 0;
  let depth = 0;
  // The last string's content (between its quotes) and whether it held an escape.
  let strStart = 0;
  let strEnd = 0;
  let strEscaped = false;
  // The kept member: 0 not seen, 1 inside its value, 2 after it.
  let state = 0;
  let start = 0;
  let end = 0;
  let canonical = true;
  let keptMembers = 0;
  let digits = 0;
  // The deferred member: 0 not seen, 1 seen (its reader asked), 2 read (`read`), where it lies.
  let inner = 0;
  let innerStart = 0;
  let innerEnd = 0;
  let read: T | undefined;
  // The previous member name of the object open at each depth inside the kept value.
  const prevStart = keep === undefined ? undefined : new Int32Array(MAX_JSON_DEPTH + 2);
  const prevEnd = keep === undefined ? undefined : new Int32Array(MAX_JSON_DEPTH + 2);
  const n = text.length;
  for (let p = 0; p < n; p++) {
    const c = text.charCodeAt(p);
    if (c >= 0x30 && c <= 0x39) {
      if (++digits > 15 && state === 1) canonical = false;
      continue;
    }
    digits = 0;
    if (c === 0x22) {
      // A string: its end and its escapes found by indexOf (native), not char by char.
      strStart = p + 1;
      strEscaped = false;
      let close = text.indexOf('"', strStart);
      if (backslash !== -1 && backslash < strStart) backslash = text.indexOf('\\', strStart);
      while (backslash !== -1 && close !== -1 && backslash < close) {
        // Escapes other than \u are left to JSON.parse.
        const e = text.charCodeAt(backslash + 1);
        if (e === 0x75) return undefined;
        // Canonical text escapes only the quote and the backslash.
        if (e !== 0x22 && e !== 0x5c && state === 1) canonical = false;
        strEscaped = true;
        if (backslash + 1 === close) close = text.indexOf('"', close + 1);
        backslash = text.indexOf('\\', backslash + 2);
      }
      // Unterminated: JSON.parse would refuse it; the strict reader says where.
      if (close === -1) return undefined;
      p = close;
      strEnd = p;
    } else if (c === 0x3a) {
      members++;
      if (state === 1) {
        keptMembers++;
        const deferHere =
          depth === 2 &&
          inner === 0 &&
          defer !== undefined &&
          text.charCodeAt(p + 1) === 0x7b &&
          !strEscaped &&
          isName(text, strStart, strEnd, defer.member);
        if (strEscaped) canonical = false;
        else if (canonical && prevStart && prevEnd) {
          const s = prevStart[depth] as number;
          if (s >= 0 && !before(text, s, prevEnd[depth] as number, strStart, strEnd)) {
            canonical = false;
          }
          prevStart[depth] = strStart;
          prevEnd[depth] = strEnd;
        }
        if (deferHere && canonical) {
          // The reader takes the member's value whole, or the scan goes through it.
          const got = defer.read(text, p + 1);
          inner = 1;
          if (got !== undefined) {
            read = got.value;
            inner = 2;
            innerStart = p + 1;
            innerEnd = got.end;
            p = got.end - 1;
          }
        }
      } else if (
        depth === 1 &&
        keep !== undefined &&
        !strEscaped &&
        isName(text, strStart, strEnd, keep)
      ) {
        // A second member of that name is a duplicate: the strict reader says so.
        if (state !== 0) return undefined;
        state = 1;
        start = p + 1;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) return undefined;
      if (prevStart) prevStart[depth] = -1;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (state === 1 && depth === 0) {
        state = 2;
        end = p;
      }
    } else if (c === 0x2c) {
      if (state === 1 && depth === 1) {
        state = 2;
        end = p;
      }
    } else if (c === 0x2d) {
      // `-0` is written `0`.
      if (state === 1 && text.charCodeAt(p + 1) === 0x30) canonical = false;
    } else if (c === 0x2e || c === 0x65 || c === 0x45) {
      // '.', or 'e'/'E' after a digit: a number with a fraction or an exponent.
      const prev = text.charCodeAt(p - 1);
      if (c === 0x2e || (prev >= 0x30 && prev <= 0x39)) {
        if (integersOnly) return undefined;
        if (state === 1) canonical = false;
      }
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      if (state === 1) canonical = false;
    }
  }
  // A member read by its reader was not scanned: without a canonical kept value around it,
  // the text is scanned again without a reader (its members were not counted).
  if (inner === 2 && !(state === 2 && canonical)) return nativeParse(text, integersOnly, keep);
  let value: JsonValue;
  try {
    value = JSON.parse(
      read === undefined ? text : text.slice(0, innerStart) + '{}' + text.slice(innerEnd),
    ) as JsonValue;
  } catch {
    return undefined;
  }
  if (state === 2 && canonical && isJsonObject(value)) {
    // Names inside the kept value are in strictly increasing order: none was lost.
    if (countMembersBeside(value, keep as string) !== members - keptMembers) return undefined;
    const span = [start, end] as Span;
    span.ascii = ascii;
    if (read === undefined) return { value, span };
    const holder = (value[keep as string] as JsonObject)[(defer as Defer<T>).member] as JsonObject;
    return { value, span, deferred: { holder, value: read } };
  }
  return countMembers(value) === members ? { value, span: undefined } : undefined;
}

/** Whether text[aStart, aEnd) sorts strictly before text[bStart, bEnd) by UTF-16 units. */
function before(text: string, aStart: number, aEnd: number, bStart: number, bEnd: number): boolean {
  const la = aEnd - aStart;
  const lb = bEnd - bStart;
  const len = la < lb ? la : lb;
  for (let i = 0; i < len; i++) {
    const x = text.charCodeAt(aStart + i);
    const y = text.charCodeAt(bStart + i);
    if (x !== y) return x < y;
  }
  return la < lb;
}

function isName(text: string, start: number, end: number, name: string): boolean {
  return end - start === name.length && text.startsWith(name, start);
}

/** Members of every object in `value`. */
function countMembers(value: JsonValue): number {
  if (typeof value !== 'object' || value === null) return 0;
  let count = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) count += countMembers(value[i] as JsonValue);
    return count;
  }
  for (const k in value) {
    count += 1 + countMembers(value[k] as JsonValue);
  }
  return count;
}

/** countMembers of an object, not counting inside the value of its member `skip`. */
function countMembersBeside(value: JsonObject, skip: string): number {
  let count = 0;
  for (const k in value) count += 1 + (k === skip ? 0 : countMembers(value[k] as JsonValue));
  return count;
}
