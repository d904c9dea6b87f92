/**
 * FileMeta: the length and hashes by which a parent role pins a file (snapshot pins
 * root and targets files, timestamp pins snapshot, targets pin their targets). Checking
 * follows Notary: every hash we know (sha256, sha512) must match, at least one must be
 * present, and the length must be exact.
 */
import { createHash } from 'node:crypto';
import { NotaryHsmError } from '../errors';
import { canonicalJson } from './canonical';
import { asBase64, asInt, asMap, asObject, at, fieldValue } from './fields';
import { isJsonObject, jsonEqual, setMember, type JsonObject, type JsonValue } from './json';

/** Hash algorithms Notary checks; others are carried but not checked. */
export const SUPPORTED_HASHES = ['sha256', 'sha512'] as const;

/** Canonical padded base64 of 32 bytes (a sha256 digest) and of 64 (sha512): the common case, checked by one test. */
const SHA256_B64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const SHA512_B64 = /^[A-Za-z0-9+/]{85}[AQgw]==$/;

/** Digests by algorithm in their checked base64 spelling (decoded only when asked for). */
class Base64Digests {
  constructor(readonly byAlgorithm: ReadonlyMap<string, string>) {}
}

export class FileMeta {
  readonly length: number;
  /** Algorithm → digest as the file spells it (padded standard base64, canonical). */
  private readonly encoded: ReadonlyMap<string, string>;
  private decoded: ReadonlyMap<string, Buffer> | undefined;
  /** Opaque `custom` value, re-emitted in canonical form. */
  readonly custom: JsonValue | undefined;

  /** `hashes`: digests, or (from a parse) digests already checked in their base64 spelling. */
  constructor(
    length: number,
    hashes: ReadonlyMap<string, Buffer> | Base64Digests,
    custom?: JsonValue,
  ) {
    this.length = length;
    if (hashes instanceof Base64Digests) {
      this.encoded = hashes.byAlgorithm;
    } else {
      this.encoded = new Map([...hashes].map(([alg, h]) => [alg, h.toString('base64')]));
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
    return new FileMeta(length, new Base64Digests(new Map([['sha256', b64]])), custom);
  }

  /** A Docker-style target from its sha256 in hex (64 digits, checked by the caller). */
  static sha256Hex(hex: string, length: number): FileMeta {
    return new FileMeta(
      length,
      new Base64Digests(new Map([['sha256', Buffer.from(hex, 'hex').toString('base64')]])),
    );
  }

  /**
   * `path` is the value's JSON pointer, or a function making it (only a refusal needs it).
   * throws: FIELD_*, BASE64_INVALID
   */
  static fromJson(v: JsonValue | undefined, path: string | (() => string)): FileMeta {
    return (
      FileMeta.fromCommonJson(v) ??
      FileMeta.fromAnyJson(v, typeof path === 'string' ? path : path())
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
    const encoded = new Map<string, string>();
    for (const alg in hashes) {
      const h = hashes[alg];
      if (typeof h !== 'string') return undefined;
      if (alg === 'sha256' ? !SHA256_B64.test(h) : alg !== 'sha512' || !SHA512_B64.test(h)) {
        return undefined;
      }
      encoded.set(alg, h);
    }
    return new FileMeta(length as number, new Base64Digests(encoded));
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
    this.decoded ??= new Map([...this.encoded].map(([alg, h]) => [alg, Buffer.from(h, 'base64')]));
    return this.decoded;
  }

  toJson(): JsonObject {
    const hashes: JsonObject = {};
    for (const [alg, h] of this.encoded) setMember(hashes, alg, h);
    const out: JsonObject = { hashes, length: this.length };
    if (this.custom !== undefined) out.custom = this.custom;
    return out;
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
    if (Object.keys(v).length !== members || Object.keys(hashes).length !== this.encoded.size) {
      return false;
    }
    for (const [alg, h] of this.encoded) {
      if (!Object.prototype.hasOwnProperty.call(hashes, alg) || hashes[alg] !== h) return false;
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
