/**
 * FileMeta: the length and hashes by which a parent role pins a file (snapshot pins
 * root and targets files, timestamp pins snapshot, targets pin their targets). Checking
 * follows Notary: every hash we know (sha256, sha512) must match, at least one must be
 * present, and the length must be exact.
 */
import { createHash } from 'node:crypto';
import { NotaryHsmError } from '../errors';
import { canonicalJson, canonicalString, compareUtf8 } from './canonical';
import { commonSha256Text, hexDigestBase64 } from './hex-digest';
import { asBase64, asInt, asMap, asObject, at, fieldValue } from './fields';
import { isJsonObject, jsonEqual, setMember, type JsonObject, type JsonValue } from './json';

/** Hash algorithms Notary checks; others are carried but not checked. */
export const SUPPORTED_HASHES = ['sha256', 'sha512'] as const;

/** Canonical padded base64 of 32 bytes (a sha256 digest) and of 64 (sha512): the common case, checked by one test. */
const B64_32 = '[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=';
const B64_64 = '[A-Za-z0-9+/]{85}[AQgw]==';
const SHA256_B64 = new RegExp(`^${B64_32}$`);
const SHA512_B64 = new RegExp(`^${B64_64}$`);

/** The canonical text of a common target's hashes: sha256, and sha512 beside it. */
const HASHES_TEXT = `\\{"hashes":\\{"sha256":"${B64_32}"(?:,"sha512":"${B64_64}")?\\},"length":`;

/**
 * The canonical text of a target in the common shape with sha256 (and sha512 beside it),
 * as a regular expression's source: `{"hashes":{"sha256":…},"length":N}` with digests in
 * canonical base64 and a length of at most 15 digits (a safe integer whatever the digits;
 * the JSON reader keeps no longer number as canonical either).
 */
export const COMMON_TEXT = `${HASHES_TEXT}(?:0|[1-9][0-9]{0,14})\\}`;
/** A whole common text, with a length of up to 16 digits (then checked to be safe). */
const COMMON_WHOLE = new RegExp(`^${HASHES_TEXT}(?:0|[1-9][0-9]{0,15})\\}$`);
/** Where a common text's digests start: `{"hashes":{"sha256":"` and, after it, `","sha512":"`. */
const SHA256_AT = 21;
const SHA512_AT = SHA256_AT + 44 + 12;

function isDigestList(
  hashes: ReadonlyMap<string, Buffer> | readonly string[],
): hashes is readonly string[] {
  return Array.isArray(hashes);
}

/** How many members `o` has, without listing them (10,000 targets are compared per request). */
function memberCount(o: JsonObject): number {
  let n = 0;
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- only counted
  for (const _ in o) n++;
  return n;
}

/** A length the common shape holds: a safe integer, not negative, not -0. */
function lengthIsCommon(length: number): boolean {
  return Number.isSafeInteger(length) && length >= 0 && !Object.is(length, -0);
}

export class FileMeta {
  readonly length: number;
  /** Algorithm, digest, algorithm, digest…: the digests as files spell them (padded base64, canonical). */
  private readonly encoded: readonly string[];
  private decoded: ReadonlyMap<string, Buffer> | undefined;
  /** Whether toJson() is in the common shape, written canonically (isCanonicalCommon); undefined until asked. */
  private common: boolean | undefined;
  /** Opaque `custom` value, re-emitted in canonical form. */
  readonly custom: JsonValue | undefined;

  /**
   * `hashes`: the digests by algorithm, or (what a parse found, already checked) a flat
   * list of algorithms and digests in canonical base64 — one small array for a target
   * instead of a map (10,000 targets make 10,000 of them).
   */
  constructor(
    length: number,
    hashes: ReadonlyMap<string, Buffer> | readonly string[],
    custom?: JsonValue,
  ) {
    this.length = length;
    if (isDigestList(hashes)) {
      this.encoded = hashes;
    } else {
      this.encoded = [...hashes].flatMap(([alg, h]) => [alg, h.toString('base64')]);
      this.decoded = hashes;
    }
    this.custom = custom;
  }

  /** Length, sha256 and sha512 of `bytes` (what Notary records for metadata files). */
  static of(bytes: Uint8Array): FileMeta {
    return new FileMeta(
      bytes.length,
      new Map(SUPPORTED_HASHES.map((alg) => [alg, createHash(alg).update(bytes).digest()])),
    );
  }

  /** A Docker-style target: sha256 only. */
  static sha256(digest: Uint8Array, length: number, custom?: JsonValue): FileMeta {
    const b64 = Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('base64');
    const meta = new FileMeta(length, ['sha256', b64], custom);
    if (digest.byteLength === 32 && custom === undefined) meta.common = lengthIsCommon(length);
    return meta;
  }

  /**
   * A Docker-style target from its sha256 in 64 hex digits (checked by the caller; a
   * string that is not is an error, never a shorter digest). The digest passes through one
   * scratch buffer: 10,000 tags from a file make no buffer each.
   * throws: USAGE
   */
  static sha256Hex(hex: string, length: number): FileMeta {
    const b64 = hex.length === 64 ? hexDigestBase64(hex, 0) : undefined;
    if (b64 === undefined) {
      throw new NotaryHsmError('USAGE', `${JSON.stringify(hex)} is not a sha256 in hex`);
    }
    const meta = new FileMeta(length, ['sha256', b64]);
    meta.common = lengthIsCommon(length);
    return meta;
  }

  /**
   * canonicalText of sha256Hex(hex, length), written without making the FileMeta; with
   * `at`, the 64 hex digits are read where it says in `hex` (a line of a tag file).
   * throws: USAGE (not 64 hex digits, or a length that is not a safe integer)
   */
  static sha256HexText(hex: string, length: number, at?: number): string {
    const text =
      at !== undefined || hex.length === 64 ? commonSha256Text(hex, at ?? 0, length) : undefined;
    if (text === undefined) {
      const digits = at === undefined ? hex : hex.slice(at, at + 64);
      throw new NotaryHsmError(
        'USAGE',
        `${JSON.stringify(digits)}:${length} is not a sha256 in hex and a length`,
      );
    }
    return text;
  }

  /** The target a COMMON_TEXT spells, or undefined for any other text. */
  static fromCommonText(text: string): FileMeta | undefined {
    if (!COMMON_WHOLE.test(text)) return undefined;
    const sha256 = text.slice(SHA256_AT, SHA256_AT + 44);
    const length = Number(text.slice(text.lastIndexOf(':') + 1, -1));
    if (!Number.isSafeInteger(length)) return undefined;
    const meta = new FileMeta(
      length,
      text.charCodeAt(SHA256_AT + 45) === 0x2c
        ? ['sha256', sha256, 'sha512', text.slice(SHA512_AT, SHA512_AT + 88)]
        : ['sha256', sha256],
    );
    meta.common = true;
    return meta;
  }

  /** Whether toJson() is in the common shape, written canonically (isCanonicalCommon). */
  isCommon(): boolean {
    this.common ??= FileMeta.isCanonicalCommon(this.toJson());
    return this.common;
  }

  /**
   * `path` is the value's JSON pointer; or its parent's pointer and its member name, joined
   * only when a refusal needs them (10,000 targets need none).
   * throws: FIELD_*, BASE64_INVALID
   */
  static fromJson(v: JsonValue | undefined, path: string, member?: string): FileMeta {
    return (
      FileMeta.fromCommonJson(v) ??
      FileMeta.fromAnyJson(v, member === undefined ? path : at(path, member))
    );
  }

  /**
   * The shape nearly every target has, `{"hashes":{"sha256":…},"length":N}` (and sha512
   * beside it), checked without building a JSON pointer or decoding a digest; undefined
   * for anything else, which fromAnyJson then parses (or refuses, naming the path).
   */
  private static fromCommonJson(v: JsonValue | undefined): FileMeta | undefined {
    if (!isJsonObject(v)) return undefined;
    let members = 0;
    for (const k in v) {
      if (k !== 'hashes' && k !== 'length') return undefined;
      members++;
    }
    const { hashes, length } = v;
    if (members !== 2 || !Number.isSafeInteger(length) || (length as number) < 0) return undefined;
    if (!isJsonObject(hashes)) return undefined;
    const encoded: string[] = [];
    for (const alg in hashes) {
      const h = hashes[alg];
      if (typeof h !== 'string') return undefined;
      if (alg === 'sha256' ? !SHA256_B64.test(h) : alg !== 'sha512' || !SHA512_B64.test(h)) {
        return undefined;
      }
      encoded.push(alg, h);
    }
    return new FileMeta(length as number, encoded);
  }

  /**
   * Whether `v` is in the common shape with its members in canonical order (`hashes` before
   * `length`, sha256 before sha512): JSON.stringify(v) is then its canonical text, and
   * fromJson(v) accepts it and writes it back alike (KeptTargets).
   */
  static isCanonicalCommon(v: JsonValue | undefined): boolean {
    if (!isJsonObject(v)) return false;
    let members = 0;
    for (const k in v) {
      if (k !== (members === 0 ? 'hashes' : 'length')) return false;
      if (++members > 2) return false;
    }
    const { hashes, length } = v;
    if (members !== 2 || typeof length !== 'number' || !lengthIsCommon(length)) return false;
    if (!isJsonObject(hashes)) return false;
    let algs = 0;
    for (const alg in hashes) {
      const h = hashes[alg];
      if (typeof h !== 'string') return false;
      const ok =
        alg === 'sha256'
          ? algs === 0 && SHA256_B64.test(h)
          : alg === 'sha512' && SHA512_B64.test(h);
      if (!ok) return false;
      algs++;
    }
    return true;
  }

  private static fromAnyJson(v: JsonValue | undefined, path: string): FileMeta {
    const o = asObject(v, path, ['hashes', 'length'], ['custom']);
    const hashes = new Map<string, Buffer>();
    const hPath = at(path, 'hashes');
    for (const [alg, value] of asMap(o.hashes, hPath)) {
      hashes.set(alg, asBase64(value, at(hPath, alg)));
    }
    for (const alg of SUPPORTED_HASHES) {
      const h = hashes.get(alg);
      const want = alg === 'sha256' ? 32 : 64;
      if (h && h.length !== want) fieldValue(at(hPath, alg), `a ${alg} digest is ${want} bytes`);
    }
    let custom: JsonValue | undefined;
    if (o.custom !== undefined) {
      if (o.custom === null)
        fieldValue(at(path, 'custom'), 'null custom data is not round-trippable');
      canonicalJson(o.custom); // refuse what canonical JSON cannot carry
      custom = o.custom;
    }
    return new FileMeta(asInt(o.length, at(path, 'length'), 0), hashes, custom);
  }

  /** Algorithm → digest bytes. */
  get hashes(): ReadonlyMap<string, Buffer> {
    if (this.decoded === undefined) {
      const decoded = new Map<string, Buffer>();
      for (let i = 0; i < this.encoded.length; i += 2) {
        decoded.set(
          this.encoded[i] as string,
          Buffer.from(this.encoded[i + 1] as string, 'base64'),
        );
      }
      this.decoded = decoded;
    }
    return this.decoded;
  }

  toJson(): JsonObject {
    const hashes: JsonObject = {};
    for (let i = 0; i < this.encoded.length; i += 2) {
      setMember(hashes, this.encoded[i] as string, this.encoded[i + 1] as string);
    }
    const out: JsonObject = { hashes, length: this.length };
    if (this.custom !== undefined) out.custom = this.custom;
    return out;
  }

  /** canonicalJson(this.toJson()), written directly for a target without custom data. */
  canonicalText(): string {
    if (this.common === true && this.encoded.length === 2 && this.encoded[0] === 'sha256') {
      // Checked canonical already: nothing to escape, a safe integer.
      return `{"hashes":{"sha256":"${this.encoded[1] as string}"},"length":${this.length}}`;
    }
    if (this.custom !== undefined || (this.encoded.length !== 2 && this.encoded.length !== 4)) {
      return canonicalJson(this.toJson());
    }
    let hashes =
      canonicalString(this.encoded[0] as string) + ':' + canonicalString(this.encoded[1] as string);
    if (this.encoded.length === 4) {
      const other =
        canonicalString(this.encoded[2] as string) +
        ':' +
        canonicalString(this.encoded[3] as string);
      const first = compareUtf8(this.encoded[0] as string, this.encoded[2] as string);
      if (first === 0) return canonicalJson(this.toJson());
      hashes = first < 0 ? hashes + ',' + other : other + ',' + hashes;
    }
    return '{"hashes":{' + hashes + '},"length":' + canonicalJson(this.length) + '}';
  }

  /**
   * Whether `v` is the JSON value toJson() writes (`jsonEqual(this.toJson(), v)`),
   * decided without writing it.
   */
  reproducedBy(v: JsonValue | undefined): boolean {
    if (!isJsonObject(v) || v.length !== this.length) return false;
    const hashes = v.hashes;
    if (!isJsonObject(hashes)) return false;
    let members = 2;
    if (this.custom === undefined) {
      if (Object.prototype.hasOwnProperty.call(v, 'custom')) return false;
    } else {
      if (!Object.prototype.hasOwnProperty.call(v, 'custom')) return false;
      if (!jsonEqual(this.custom, v.custom as JsonValue)) return false;
      members++;
    }
    if (memberCount(v) !== members || memberCount(hashes) !== this.encoded.length / 2) {
      return false;
    }
    for (let i = 0; i < this.encoded.length; i += 2) {
      const alg = this.encoded[i] as string;
      if (!Object.prototype.hasOwnProperty.call(hashes, alg)) return false;
      if (hashes[alg] !== this.encoded[i + 1]) return false;
    }
    return true;
  }

  /** The sha256 digest, if listed. */
  get sha256Digest(): Buffer | undefined {
    return this.hashes.get('sha256');
  }

  /**
   * Checks `bytes` against this meta.
   * throws: LENGTH_MISMATCH, HASH_MISMATCH
   */
  check(bytes: Uint8Array, what: string): void {
    if (bytes.length !== this.length) {
      throw new NotaryHsmError(
        'LENGTH_MISMATCH',
        `${what} is ${bytes.length} bytes, expected ${this.length}`,
      );
    }
    let checked = 0;
    for (const alg of SUPPORTED_HASHES) {
      const want = this.hashes.get(alg);
      if (!want) continue;
      checked++;
      if (!createHash(alg).update(bytes).digest().equals(want)) {
        throw new NotaryHsmError('HASH_MISMATCH', `${what} does not match its ${alg} hash`);
      }
    }
    if (checked === 0) {
      throw new NotaryHsmError(
        'HASH_MISMATCH',
        `${what} is pinned by no supported hash (sha256, sha512)`,
      );
    }
  }

  /** True when both metas list the same length and hashes. */
  equals(other: FileMeta): boolean {
    return canonicalJson(this.toJson()) === canonicalJson(other.toJson());
  }
}
