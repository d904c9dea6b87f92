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
import { setMember, type JsonObject, type JsonValue } from './json';

/** Hash algorithms Notary checks; others are carried but not checked. */
export const SUPPORTED_HASHES = ['sha256', 'sha512'] as const;

export class FileMeta {
  readonly length: number;
  readonly hashes: ReadonlyMap<string, Buffer>;
  /** Opaque `custom` value, re-emitted in canonical form. */
  readonly custom: JsonValue | undefined;

  constructor(length: number, hashes: ReadonlyMap<string, Buffer>, custom?: JsonValue) {
    this.length = length;
    this.hashes = hashes;
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
    return new FileMeta(length, new Map([['sha256', Buffer.from(digest)]]), custom);
  }

  /** throws: FIELD_*, BASE64_INVALID */
  static fromJson(v: JsonValue | undefined, path: string): FileMeta {
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

  toJson(): JsonObject {
    const hashes: JsonObject = {};
    for (const [alg, h] of this.hashes) setMember(hashes, alg, h.toString('base64'));
    const out: JsonObject = { hashes, length: this.length };
    if (this.custom !== undefined) out.custom = this.custom;
    return out;
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
