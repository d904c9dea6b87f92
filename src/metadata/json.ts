/**
 * A strict JSON reader for metadata that arrives from a network. JSON.parse silently
 * keeps the last of two duplicate members, accepts a byte-order mark after TextDecoder
 * strips it, and turns lone surrogate escapes into strings Go would decode differently;
 * each of those lets two readers see two different documents. This reader refuses them
 * with a typed error, bounds nesting depth, and never lets a member named `__proto__`
 * touch an object's prototype.
 */
import { NotaryHsmError } from '../errors';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

/** Deepest nesting accepted; Notary metadata needs six levels. */
export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 bytes (invalid sequences are an error, never replaced). */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new NotaryHsmError('JSON_INVALID', 'input is not valid UTF-8', { cause });
  }
}

export interface ParseJsonOptions {
  /**
   * Refuse numbers written with a fraction or an exponent (`2.0`, `2e0`, `1e400`). Notary
   * metadata holds only integers, and Go's decoder refuses such spellings for its int
   * fields while a JavaScript number cannot tell `2.0` from `2`.
   */
  integersOnly?: boolean;
}

/**
 * Parses JSON text or bytes.
 * throws: JSON_INVALID (syntax, encoding), JSON_DUPLICATE_KEY, JSON_TOO_DEEP
 */
export function parseJson(input: string | Uint8Array, options: ParseJsonOptions = {}): JsonValue {
  return parseJsonKeeping(input, undefined, options).value;
}

/** A parsed document, and the canonical bytes of the member asked for when it has them. */
export interface KeptJson {
  readonly value: JsonValue;
  /**
   * The UTF-8 bytes of the top-level member's value exactly as the input wrote it (a view
   * of the input's bytes, when they are ASCII: not a copy), when
   * that text is already canonical JSON, i.e. byte for byte what `canonicalBytes` writes
   * for the value (a metadata file's `signed`, which Notary writes canonically); undefined
   * when it is not, or when the member is missing, so the caller encodes the value itself.
   */
  readonly kept: Buffer | undefined;
}

/**
 * parseJson, keeping the text of one top-level member when it is canonical: a 1 MB
 * `signed` object need not be encoded again for its signatures.
 * throws: JSON_INVALID (syntax, encoding), JSON_DUPLICATE_KEY, JSON_TOO_DEEP
 */
export function parseJsonKeeping(
  input: string | Uint8Array,
  keep: string | undefined,
  options: ParseJsonOptions = {},
): KeptJson {
  const text = typeof input === 'string' ? input : decodeUtf8(input);
  const integersOnly = options.integersOnly === true;
  const fast = nativeParse(text, integersOnly, keep);
  if (fast !== undefined) {
    const { value, span } = fast;
    if (span === undefined) return { value, kept: undefined };
    const [start, end] = span;
    // Offsets are UTF-16 units; for ASCII text they are the input's byte offsets too.
    const kept =
      typeof input !== 'string' && span.ascii
        ? Buffer.from(input.buffer, input.byteOffset + start, end - start)
        : Buffer.from(text.slice(start, end), 'utf8');
    return { value, kept };
  }
  const parser = new Parser(text, integersOnly);
  parser.skipWs();
  const value = parser.value(0);
  parser.skipWs();
  if (parser.pos !== text.length) parser.fail('unexpected data after the JSON value');
  return { value, kept: undefined };
}

/** Sets a member without ever invoking the `__proto__` setter. */
export function setMember(obj: JsonObject, key: string, value: JsonValue): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    obj[key] = value;
  }
}

/**
 * True when two JSON values are equal: the same members (in any order) with equal
 * values, arrays element by element. (util.isDeepStrictEqual answers the same for JSON
 * data, through checks JSON never needs: prototypes, symbols, cycles.)
 */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      if (!jsonEqual(a[i] as JsonValue, b[i] as JsonValue)) return false;
    }
    return true;
  }
  if (Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!jsonEqual(a[k] as JsonValue, b[k] as JsonValue)) return false;
  }
  return true;
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where a kept member's value lies in the text, and whether the text before its end is ASCII. */
type Span = [start: number, end: number] & { ascii: boolean };

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
function nativeParse(
  text: string,
  integersOnly: boolean,
  keep: string | undefined,
): { value: JsonValue; span: Span | undefined } | undefined {
  let members = 0;
  let depth = 0;
  let ascii = true;
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
      // A string: find its end; escapes other than \u are left to JSON.parse.
      strStart = p + 1;
      strEscaped = false;
      for (p++; p < n; p++) {
        const d = text.charCodeAt(p);
        if (d === 0x22) break;
        if (d === 0x5c) {
          const e = text.charCodeAt(p + 1);
          if (e === 0x75) return undefined;
          // Canonical text escapes only the quote and the backslash.
          if (e !== 0x22 && e !== 0x5c && state === 1) canonical = false;
          strEscaped = true;
          p++;
        } else if (d >= 0x80) {
          if (d >= 0xd800 && d <= 0xdfff) return undefined;
          ascii = false;
        }
      }
      strEnd = p;
    } else if (c === 0x3a) {
      members++;
      if (state === 1) {
        keptMembers++;
        if (strEscaped) canonical = false;
        else if (canonical && prevStart && prevEnd) {
          const s = prevStart[depth] as number;
          if (s >= 0 && !before(text, s, prevEnd[depth] as number, strStart, strEnd)) {
            canonical = false;
          }
          prevStart[depth] = strStart;
          prevEnd[depth] = strEnd;
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
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
  if (state === 2 && canonical && isJsonObject(value)) {
    // Names inside the kept value are in strictly increasing order: none was lost.
    if (countMembersBeside(value, keep as string) !== members - keptMembers) return undefined;
    const span = [start, end] as Span;
    span.ascii = ascii;
    return { value, span };
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

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Parser {
  pos = 0;
  constructor(
    private readonly text: string,
    private readonly integersOnly: boolean,
  ) {}

  fail(what: string): never {
    throw new NotaryHsmError('JSON_INVALID', `invalid JSON at offset ${this.pos}: ${what}`, {
      details: { offset: this.pos },
    });
  }

  skipWs(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  value(depth: number): JsonValue {
    if (depth > MAX_JSON_DEPTH) {
      throw new NotaryHsmError('JSON_TOO_DEEP', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.number();
    }
  }

  literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`expected ${word}`);
    this.pos += word.length;
    return value;
  }

  number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail('expected a value');
    // The number itself is not quoted: it may be a secret sent with the wrong type (a PIN).
    if (this.integersOnly && /[.eE]/.test(m[0])) this.fail('a number that is not an integer');
    this.pos += m[0].length;
    return Number(m[0]);
  }

  string(): string {
    const t = this.text;
    let p = this.pos + 1;
    let out = '';
    let start = p;
    for (;;) {
      if (p >= t.length) {
        this.pos = p;
        this.fail('unterminated string');
      }
      const c = t.charCodeAt(p);
      if (c === 0x22) break;
      if (c < 0x20) {
        this.pos = p;
        this.fail('control character in string');
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        // Decoded bytes never hold lone surrogates, but string input may.
        const low = t.charCodeAt(p + 1);
        if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) {
          this.pos = p;
          this.fail('lone surrogate');
        }
        p += 2;
        continue;
      }
      if (c !== 0x5c) {
        p++;
        continue;
      }
      out += t.slice(start, p);
      const e = t[p + 1];
      p += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const unit = this.hex4(p);
          p += 4;
          if (unit >= 0xd800 && unit <= 0xdbff) {
            if (t[p] !== '\\' || t[p + 1] !== 'u') {
              this.pos = p;
              this.fail('lone surrogate escape');
            }
            const low = this.hex4(p + 2);
            if (low < 0xdc00 || low > 0xdfff) {
              this.pos = p;
              this.fail('lone surrogate escape');
            }
            p += 6;
            out += String.fromCharCode(unit, low);
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            this.pos = p;
            this.fail('lone surrogate escape');
          } else {
            out += String.fromCharCode(unit);
          }
          break;
        }
        default:
          this.pos = p - 1;
          this.fail('invalid escape');
      }
      start = p;
    }
    out += t.slice(start, p);
    this.pos = p + 1;
    return out;
  }

  hex4(at: number): number {
    const h = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) {
      this.pos = at;
      this.fail('invalid \\u escape');
    }
    return parseInt(h, 16);
  }

  array(depth: number): JsonValue[] {
    this.pos++;
    const out: JsonValue[] = [];
    this.skipWs();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      out.push(this.value(depth + 1));
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === ']') return out;
      if (c !== ',') {
        this.pos--;
        this.fail("expected ',' or ']'");
      }
    }
  }

  object(depth: number): JsonObject {
    this.pos++;
    const out: JsonObject = {};
    this.skipWs();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.text[this.pos] !== '"') this.fail('expected a member name');
      const at = this.pos;
      const key = this.string();
      if (Object.prototype.hasOwnProperty.call(out, key)) {
        throw new NotaryHsmError('JSON_DUPLICATE_KEY', `duplicate member ${JSON.stringify(key)}`, {
          details: { offset: at, member: key },
        });
      }
      this.skipWs();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.skipWs();
      setMember(out, key, this.value(depth + 1));
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === '}') return out;
      if (c !== ',') {
        this.pos--;
        this.fail("expected ',' or '}'");
      }
    }
  }
}
