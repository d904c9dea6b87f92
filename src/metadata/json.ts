/**
 * A strict JSON reader for metadata that arrives from a network. JSON.parse silently
 * keeps the last of two duplicate members, accepts a byte-order mark after TextDecoder
 * strips it, and turns lone surrogate escapes into strings Go would decode differently;
 * each of those lets two readers see two different documents. This reader refuses them
 * with a typed error, bounds nesting depth, and never lets a member named `__proto__`
 * touch an object's prototype. Its parts: json-scan.ts (one pass, then JSON.parse, for
 * the common case), json-strict.ts (the reader that names what it refuses) and
 * json-value.ts (the values both make).
 */
import { isAscii } from 'node:buffer';
import { NotaryHsmError } from '../errors';
import { nativeParse, type Defer, type Deferred } from './json-scan';
import { parseStrict } from './json-strict';
import type { JsonValue } from './json-value';

export type { Defer, Deferred } from './json-scan';
export {
  isJsonObject,
  jsonEqual,
  MAX_JSON_DEPTH,
  setMember,
  type JsonObject,
  type JsonValue,
} from './json-value';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes UTF-8 bytes (invalid sequences are an error, never replaced). */
export function decodeUtf8(bytes: Uint8Array): string {
  // ASCII (nearly every metadata file) is its own UTF-8 and Latin-1: a copy, no decoding.
  if (isAscii(bytes)) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
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
export interface KeptJson<T = never> {
  readonly value: JsonValue;
  /**
   * The UTF-8 bytes of the top-level member's value exactly as the input wrote it (a view
   * of the input's bytes, when they are ASCII: not a copy), when
   * that text is already canonical JSON, i.e. byte for byte what `canonicalBytes` writes
   * for the value (a metadata file's `signed`, which Notary writes canonically); undefined
   * when it is not, or when the member is missing, so the caller encodes the value itself.
   */
  readonly kept: Buffer | undefined;
  /**
   * The member `defer` names, read from its canonical text by defer's reader (only when the
   * kept member is canonical and the reader accepts it); `value` then holds an empty object
   * in its place, `holder`.
   */
  readonly deferred?: Deferred<T>;
}

/**
 * parseJson, keeping the text of one top-level member when it is canonical: a 1 MB
 * `signed` object need not be encoded again for its signatures.
 * throws: JSON_INVALID (syntax, encoding), JSON_DUPLICATE_KEY, JSON_TOO_DEEP
 */
export function parseJsonKeeping<T = never>(
  input: string | Uint8Array,
  keep: string | undefined,
  options: ParseJsonOptions & { defer?: Defer<T> } = {},
): KeptJson<T> {
  const text = typeof input === 'string' ? input : decodeUtf8(input);
  const integersOnly = options.integersOnly === true;
  const fast = nativeParse(text, integersOnly, keep, options.defer);
  if (fast !== undefined) {
    const { value, span, deferred } = fast;
    if (span === undefined) return { value, kept: undefined };
    const [start, end] = span;
    // Offsets are UTF-16 units; for ASCII text they are the input's byte offsets too.
    const kept =
      typeof input !== 'string' && span.ascii
        ? Buffer.from(input.buffer, input.byteOffset + start, end - start)
        : Buffer.from(text.slice(start, end), 'utf8');
    return deferred === undefined ? { value, kept } : { value, kept, deferred };
  }
  return { value: parseStrict(text, integersOnly), kept: undefined };
}
