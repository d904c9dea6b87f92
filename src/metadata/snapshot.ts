/**
 * Snapshot and Timestamp metadata: the file metas that pin every other file. A snapshot
 * must pin `root` and `targets` by sha256; a timestamp pins exactly `snapshot`.
 */
import { NotaryHsmError } from '../errors';
import { readCommon, type MetadataType } from './common';
import { asMap, asObject, at } from './fields';
import { FileMeta } from './file-meta';
import { setMember, type JsonObject, type JsonValue } from './json';
import type { GoTime } from './time';

export interface MetaInit {
  expires: GoTime;
  version: number;
  meta: ReadonlyMap<string, FileMeta>;
}

/** Reads `{"_type","expires","meta","version"}` whose meta pins at least `required`. */
function readPins(
  v: JsonValue,
  path: string,
  type: MetadataType,
  required: readonly string[],
): MetaInit {
  const o = asObject(v, path, ['_type', 'expires', 'meta', 'version']);
  const common = readCommon(o, path, type);
  const metaPath = at(path, 'meta');
  const meta = new Map<string, FileMeta>();
  for (const [name, fm] of asMap(o.meta, metaPath))
    meta.set(name, FileMeta.fromJson(fm, at(metaPath, name)));
  for (const name of required) {
    if (!meta.get(name)?.sha256Digest) {
      throw new NotaryHsmError(
        'FIELD_MISSING',
        `${at(metaPath, name)}: a sha256 pin of ${name} is required`,
        {
          details: { path: at(metaPath, name) },
        },
      );
    }
  }
  return { ...common, meta };
}

/** Shared shape of the two pinning roles. */
abstract class Pins {
  readonly expires: GoTime;
  readonly version: number;
  readonly meta: ReadonlyMap<string, FileMeta>;
  protected abstract readonly type: MetadataType;

  constructor(init: MetaInit) {
    this.expires = init.expires;
    this.version = init.version;
    this.meta = init.meta;
  }

  /** The Go field set of `signed`. */
  toJson(): JsonObject {
    const meta: JsonObject = {};
    for (const [name, fm] of this.meta) setMember(meta, name, fm.toJson());
    return { _type: this.type, expires: this.expires.toString(), meta, version: this.version };
  }
}

export class Snapshot extends Pins {
  protected readonly type = 'Snapshot';

  /** throws: TYPE_MISMATCH, FIELD_*, EXPIRES_INVALID, BASE64_INVALID */
  static fromJson(v: JsonValue, path = '/signed'): Snapshot {
    return new Snapshot(readPins(v, path, 'Snapshot', ['root', 'targets']));
  }
}

export class Timestamp extends Pins {
  protected readonly type = 'Timestamp';

  /** throws: TYPE_MISMATCH, FIELD_*, EXPIRES_INVALID, BASE64_INVALID */
  static fromJson(v: JsonValue, path = '/signed'): Timestamp {
    const init = readPins(v, path, 'Timestamp', ['snapshot']);
    if (init.meta.size !== 1) {
      throw new NotaryHsmError(
        'FIELD_UNKNOWN',
        `${at(path, 'meta')}: a timestamp pins only snapshot`,
        {
          details: { path: at(path, 'meta') },
        },
      );
    }
    return new Timestamp(init);
  }

  get snapshotMeta(): FileMeta {
    return this.meta.get('snapshot') as FileMeta;
  }
}
