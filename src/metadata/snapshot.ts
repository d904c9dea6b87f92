/**
 * Snapshot and Timestamp metadata: the file metas that pin every other file. A snapshot
 * must pin `root` and `targets` by sha256; a timestamp pins exactly `snapshot`.
 */
import { NotaryHsmError } from '../errors';
import { readCommon } from './common';
import { asMap, asObject, at } from './fields';
import { FileMeta } from './file-meta';
import type { JsonObject, JsonValue } from './json';
import type { GoTime } from './time';

export interface MetaInit {
  expires: GoTime;
  version: number;
  meta: ReadonlyMap<string, FileMeta>;
}

function readMeta(v: JsonValue | undefined, path: string, required: readonly string[]): Map<string, FileMeta> {
  const meta = new Map<string, FileMeta>();
  for (const [name, fm] of asMap(v, path)) meta.set(name, FileMeta.fromJson(fm, at(path, name)));
  for (const name of required) {
    if (!meta.get(name)?.sha256Digest) {
      throw new NotaryHsmError('FIELD_MISSING', `${at(path, name)}: a sha256 pin of ${name} is required`, {
        details: { path: at(path, name) },
      });
    }
  }
  return meta;
}

function metaJson(meta: ReadonlyMap<string, FileMeta>): JsonObject {
  const out: JsonObject = {};
  for (const [name, fm] of meta) out[name] = fm.toJson();
  return out;
}

export class Snapshot {
  readonly expires: GoTime;
  readonly version: number;
  readonly meta: ReadonlyMap<string, FileMeta>;

  constructor(init: MetaInit) {
    this.expires = init.expires;
    this.version = init.version;
    this.meta = init.meta;
  }

  /** throws: TYPE_MISMATCH, FIELD_*, EXPIRES_INVALID, BASE64_INVALID */
  static fromJson(v: JsonValue, path = '/signed'): Snapshot {
    const o = asObject(v, path, ['_type', 'expires', 'meta', 'version']);
    return new Snapshot({ ...readCommon(o, path, 'Snapshot'), meta: readMeta(o.meta, at(path, 'meta'), ['root', 'targets']) });
  }

  toJson(): JsonObject {
    return { _type: 'Snapshot', expires: this.expires.toString(), meta: metaJson(this.meta), version: this.version };
  }
}

export class Timestamp {
  readonly expires: GoTime;
  readonly version: number;
  readonly meta: ReadonlyMap<string, FileMeta>;

  constructor(init: MetaInit) {
    this.expires = init.expires;
    this.version = init.version;
    this.meta = init.meta;
  }

  /** throws: TYPE_MISMATCH, FIELD_*, EXPIRES_INVALID, BASE64_INVALID */
  static fromJson(v: JsonValue, path = '/signed'): Timestamp {
    const o = asObject(v, path, ['_type', 'expires', 'meta', 'version']);
    const metaPath = at(path, 'meta');
    asObject(o.meta, metaPath, ['snapshot']);
    return new Timestamp({ ...readCommon(o, path, 'Timestamp'), meta: readMeta(o.meta, metaPath, ['snapshot']) });
  }

  get snapshotMeta(): FileMeta {
    return this.meta.get('snapshot') as FileMeta;
  }

  toJson(): JsonObject {
    return { _type: 'Timestamp', expires: this.expires.toString(), meta: metaJson(this.meta), version: this.version };
  }
}
