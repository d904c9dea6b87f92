/**
 * Named mutations of the reference metadata captured from notary 0.7.0, each with the
 * error code the strict parser (or, for signature damage, the threshold check) must
 * report. Structural mutations edit the parsed JSON and re-serialise it with
 * JSON.stringify (which reproduces the reference bytes exactly, as they hold no
 * HTML-special characters); encoding, escape and duplicate-member mutations edit the raw
 * text or bytes. Every edit insists that it changed something, so a mutation can never
 * silently degrade into the unmodified file.
 */
import type { ErrorCode } from '../../src/errors';
import type { JsonObject, JsonValue } from '../../src/metadata/json';
import { vector, type Stage } from './vectors';

export type FileRole = 'root' | 'targets' | 'targets/releases' | 'snapshot' | 'timestamp';

export interface Mutation {
  readonly name: string;
  /** Reference file the mutation starts from. */
  readonly file: FileRole;
  readonly stage: Stage;
  /** Role the mutated bytes are parsed as (the file's role unless stated). */
  readonly parseAs: string;
  /** `parse`: parseMetadata must throw; `verify`: it parses, and verifyThreshold must throw. */
  readonly phase: 'parse' | 'verify';
  readonly code: ErrorCode;
  readonly apply: (ref: Buffer) => Buffer;
}

/** A path into a JSON document; `$N` names the N-th member of an object. */
export type Seg = string | number;

function isObj(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function memberName(o: JsonObject, seg: Seg): string {
  if (typeof seg === 'string' && /^\$\d+$/.test(seg)) {
    const name = Object.keys(o)[Number(seg.slice(1))];
    if (name === undefined) throw new Error(`no member ${seg}`);
    return name;
  }
  return String(seg);
}

/** The container holding the value at `path`, and the value's key in it. */
function locate(doc: JsonValue, path: readonly Seg[]): [JsonObject | JsonValue[], string | number] {
  if (path.length === 0) throw new Error('empty path');
  let cur: JsonValue = doc;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i] as Seg;
    let next: JsonValue | undefined;
    if (Array.isArray(cur)) next = cur[Number(seg)];
    else if (isObj(cur)) {
      const name = memberName(cur, seg);
      next = Object.prototype.hasOwnProperty.call(cur, name) ? cur[name] : undefined;
    }
    if (next === undefined) throw new Error(`path ${path.join('/')} does not exist`);
    cur = next;
  }
  const last = path[path.length - 1] as Seg;
  if (Array.isArray(cur)) return [cur, Number(last)];
  if (isObj(cur)) return [cur, memberName(cur, last)];
  throw new Error(`path ${path.join('/')} does not lead into a container`);
}

/** A JSON value that must be a string (mutation edits of base64 and IDs). */
export function str(v: JsonValue): string {
  if (typeof v !== 'string') throw new Error(`expected a string, got ${JSON.stringify(v)}`);
  return v;
}

/** The value at `path`. */
export function getAt(doc: JsonValue, path: readonly Seg[]): JsonValue {
  const [c, k] = locate(doc, path);
  const v = Array.isArray(c) ? c[k as number] : c[k as string];
  if (v === undefined) throw new Error(`path ${path.join('/')} does not exist`);
  return v;
}

export function setAt(doc: JsonValue, path: readonly Seg[], value: JsonValue): void {
  const [c, k] = locate(doc, path);
  if (Array.isArray(c)) c[k as number] = value;
  else Object.defineProperty(c, k, { value, enumerable: true, writable: true, configurable: true });
}

export function deleteAt(doc: JsonValue, path: readonly Seg[]): void {
  const [c, k] = locate(doc, path);
  if (Array.isArray(c)) c.splice(k as number, 1);
  else {
    if (!Object.prototype.hasOwnProperty.call(c, k)) throw new Error(`no member ${String(k)}`);
    delete c[k as string];
  }
}

/** Renames an object member in place, keeping member order. */
export function renameAt(doc: JsonValue, path: readonly Seg[], to: string): void {
  const [c, k] = locate(doc, path);
  if (Array.isArray(c)) throw new Error('cannot rename an array element');
  const entries = Object.keys(c).map((name) => [name === k ? to : name, c[name]] as const);
  for (const name of Object.keys(c)) delete c[name];
  for (const [name, v] of entries) setAt(c, [name], v as JsonValue);
}

// ---------------------------------------------------------------------------------------
// Edit builders

type Apply = (ref: Buffer) => Buffer;

function changed(ref: Buffer, out: Buffer, what: string): Buffer {
  if (out.equals(ref)) throw new Error(`mutation "${what}" changed nothing`);
  return out;
}

/** Structural edit of the parsed document, re-serialised with JSON.stringify. */
export function jsonEdit(edit: (doc: JsonObject) => void): Apply {
  return (ref) => {
    const doc = JSON.parse(ref.toString('utf8')) as JsonObject;
    edit(doc);
    return changed(ref, Buffer.from(JSON.stringify(doc), 'utf8'), 'json edit');
  };
}

export const set = (path: readonly Seg[], value: JsonValue): Apply =>
  jsonEdit((d) => setAt(d, path, value));
export const del = (path: readonly Seg[]): Apply => jsonEdit((d) => deleteAt(d, path));
export const rename = (path: readonly Seg[], to: string): Apply =>
  jsonEdit((d) => renameAt(d, path, to));
export const update = (path: readonly Seg[], fn: (v: JsonValue) => JsonValue): Apply =>
  jsonEdit((d) => setAt(d, path, fn(getAt(d, path))));

/** Raw text edit. */
export function textEdit(edit: (text: string) => string): Apply {
  return (ref) => changed(ref, Buffer.from(edit(ref.toString('utf8')), 'utf8'), 'text edit');
}

/** Replaces the first occurrence of `from` (which must occur) in the raw text. */
export function replaceText(from: string, to: string): Apply {
  return textEdit((t) => {
    if (!t.includes(from)) throw new Error(`text ${JSON.stringify(from)} not found`);
    return t.replace(from, () => to);
  });
}

/** Raw byte edit. */
export function bytesEdit(edit: (bytes: Buffer) => Buffer): Apply {
  return (ref) => changed(ref, edit(Buffer.from(ref)), 'bytes edit');
}

/** Replaces the first occurrence of the UTF-8 text `anchor` with raw bytes. */
export function replaceWithBytes(anchor: string, bytes: readonly number[]): Apply {
  return bytesEdit((b) => {
    const at = b.indexOf(anchor, 0, 'utf8');
    if (at < 0) throw new Error(`text ${JSON.stringify(anchor)} not found`);
    return Buffer.concat([
      b.subarray(0, at),
      Buffer.from(bytes),
      b.subarray(at + Buffer.byteLength(anchor)),
    ]);
  });
}

/** Edits the decoded bytes of the base64 value at `path`, re-encoding as valid base64. */
export function editBase64(path: readonly Seg[], fn: (bytes: Buffer) => Buffer): Apply {
  return update(path, (v) => fn(Buffer.from(str(v), 'base64')).toString('base64'));
}

/** Same base64 value spelled with non-zero unused trailing bits (decodes identically). */
export function nonCanonicalBase64(s: string): string {
  const i = s.endsWith('==') ? s.length - 3 : s.endsWith('=') ? s.length - 2 : -1;
  if (i < 0) throw new Error('value has no padding, so no unused bits');
  return s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) + 1) + s.slice(i + 1);
}

/** Nested arrays `depth` deep around `inner`. */
export function nested(depth: number, inner = '0'): string {
  return '['.repeat(depth) + inner + ']'.repeat(depth);
}

// ---------------------------------------------------------------------------------------
// The table

const FINAL: Stage = 'final';
const BEFORE: Stage = 'before-snapshot-rotation';

interface Opts {
  stage?: Stage;
  parseAs?: string;
  phase?: 'parse' | 'verify';
}

function m(name: string, file: FileRole, code: ErrorCode, apply: Apply, o: Opts = {}): Mutation {
  return {
    name: `${file}: ${name}`,
    file,
    stage: o.stage ?? FINAL,
    parseAs: o.parseAs ?? file,
    phase: o.phase ?? 'parse',
    code,
    apply,
  };
}

const verify = { phase: 'verify' } as const;

type Kind = 'string' | 'number' | 'null' | 'boolean' | 'array' | 'object';
const SAMPLES: Record<Kind, JsonValue> = {
  string: 'x',
  number: 1,
  null: null,
  boolean: true,
  array: [],
  object: {},
};

/** Every wrong JSON type at `path` → FIELD_TYPE. */
function wrongTypes(file: FileRole, path: readonly Seg[], kind: Kind): Mutation[] {
  return (Object.keys(SAMPLES) as Kind[])
    .filter((k) => k !== kind)
    .map((k) =>
      m(`/${path.join('/')} (${kind}) as ${k}`, file, 'FIELD_TYPE', set(path, SAMPLES[k])),
    );
}

const notAsNull = (mu: Mutation): boolean => !mu.name.endsWith(' as null');

const S = 'signed';
const ROOT_KEY = [S, 'keys', '$0'] as const;
const DELEG = [S, 'delegations'] as const;
const DROLE = [S, 'delegations', 'roles', 0] as const;
const TARGET = [S, 'targets', 'v1.0'] as const;
const SIG = ['signatures', 0] as const;

const typeMutations: Mutation[] = [
  ...wrongTypes('root', [S], 'object'),
  ...wrongTypes('root', [S, '_type'], 'string'),
  ...wrongTypes('root', [S, 'version'], 'number'),
  ...wrongTypes('root', [S, 'expires'], 'string'),
  ...wrongTypes('root', [S, 'consistent_snapshot'], 'boolean'),
  ...wrongTypes('root', [S, 'keys'], 'object'),
  ...wrongTypes('root', [...ROOT_KEY], 'object'),
  ...wrongTypes('root', [...ROOT_KEY, 'keytype'], 'string'),
  ...wrongTypes('root', [...ROOT_KEY, 'keyval'], 'object'),
  ...wrongTypes('root', [...ROOT_KEY, 'keyval', 'public'], 'string'),
  ...wrongTypes('root', [S, 'roles'], 'object'),
  ...wrongTypes('root', [S, 'roles', 'root'], 'object'),
  ...wrongTypes('root', [S, 'roles', 'snapshot', 'keyids'], 'array'),
  ...wrongTypes('root', [S, 'roles', 'targets', 'keyids', 0], 'string'),
  ...wrongTypes('root', [S, 'roles', 'timestamp', 'threshold'], 'number'),
  ...wrongTypes('root', ['signatures'], 'array'),
  ...wrongTypes('root', [...SIG], 'object'),
  ...wrongTypes('root', [...SIG, 'keyid'], 'string'),
  ...wrongTypes('root', [...SIG, 'method'], 'string'),
  ...wrongTypes('root', [...SIG, 'sig'], 'string'),
  ...wrongTypes('targets', [...DELEG], 'object'),
  // null is Go's nil map / list and round-trips (test/unit/metadata/null-delegations.test.ts)
  ...wrongTypes('targets', [...DELEG, 'keys'], 'object').filter(notAsNull),
  ...wrongTypes('targets', [...DELEG, 'roles'], 'array').filter(notAsNull),
  m('keys: null while a role names a key', 'targets', 'FIELD_VALUE', set([...DELEG, 'keys'], null)),
  ...wrongTypes('targets', [...DROLE], 'object'),
  ...wrongTypes('targets', [...DROLE, 'name'], 'string'),
  ...wrongTypes('targets', [...DROLE, 'paths'], 'array'),
  ...wrongTypes('targets', [...DROLE, 'paths', 0], 'string'),
  ...wrongTypes('targets', [...DROLE, 'threshold'], 'number'),
  ...wrongTypes('targets', [S, 'targets'], 'object'),
  ...wrongTypes('targets', [...TARGET], 'object'),
  ...wrongTypes('targets', [...TARGET, 'hashes'], 'object'),
  ...wrongTypes('targets', [...TARGET, 'hashes', 'sha256'], 'string'),
  ...wrongTypes('targets', [...TARGET, 'length'], 'number'),
  ...wrongTypes('snapshot', [S, 'meta'], 'object'),
  ...wrongTypes('snapshot', [S, 'meta', 'root'], 'object'),
  ...wrongTypes('snapshot', [S, 'meta', 'targets/ci', 'length'], 'number'),
  ...wrongTypes('timestamp', [S, 'meta', 'snapshot', 'hashes', 'sha512'], 'string'),
  m('the whole file is an array', 'root', 'FIELD_TYPE', () => Buffer.from('[]')),
  m('the whole file is a string', 'root', 'FIELD_TYPE', () => Buffer.from('"root"')),
  m('the whole file is null', 'root', 'FIELD_TYPE', () => Buffer.from('null')),
  m('the whole file is a number', 'root', 'FIELD_TYPE', () => Buffer.from('1')),
];

const missingMutations: Mutation[] = [
  m('no signed', 'root', 'FIELD_MISSING', del([S])),
  m('no signatures', 'root', 'FIELD_MISSING', del(['signatures'])),
  m('no _type', 'root', 'FIELD_MISSING', del([S, '_type'])),
  m('no expires', 'root', 'FIELD_MISSING', del([S, 'expires'])),
  m('no version', 'root', 'FIELD_MISSING', del([S, 'version'])),
  m('no consistent_snapshot', 'root', 'FIELD_MISSING', del([S, 'consistent_snapshot'])),
  m('no keys', 'root', 'FIELD_MISSING', del([S, 'keys'])),
  m('no roles', 'root', 'FIELD_MISSING', del([S, 'roles'])),
  m('no timestamp role', 'root', 'FIELD_MISSING', del([S, 'roles', 'timestamp'])),
  m('role without threshold', 'root', 'FIELD_MISSING', del([S, 'roles', 'root', 'threshold'])),
  m('role without keyids', 'root', 'FIELD_MISSING', del([S, 'roles', 'targets', 'keyids'])),
  m('key without keytype', 'root', 'FIELD_MISSING', del([...ROOT_KEY, 'keytype'])),
  m('key without keyval', 'root', 'FIELD_MISSING', del([...ROOT_KEY, 'keyval'])),
  m('keyval without private', 'root', 'FIELD_MISSING', del([...ROOT_KEY, 'keyval', 'private'])),
  m('keyval without public', 'root', 'FIELD_MISSING', del([...ROOT_KEY, 'keyval', 'public'])),
  m('signature without keyid', 'root', 'FIELD_MISSING', del([...SIG, 'keyid'])),
  m('signature without method', 'root', 'FIELD_MISSING', del([...SIG, 'method'])),
  m('signature without sig', 'root', 'FIELD_MISSING', del([...SIG, 'sig'])),
  m('no delegations (Go would write keys:null)', 'targets', 'FIELD_MISSING', del([...DELEG])),
  m('delegations without keys', 'targets', 'FIELD_MISSING', del([...DELEG, 'keys'])),
  m('delegations without roles', 'targets', 'FIELD_MISSING', del([...DELEG, 'roles'])),
  m('delegated role without name', 'targets', 'FIELD_MISSING', del([...DROLE, 'name'])),
  m('delegated role without keyids', 'targets', 'FIELD_MISSING', del([...DROLE, 'keyids'])),
  m('no targets map', 'targets', 'FIELD_MISSING', del([S, 'targets'])),
  m('target without length', 'targets', 'FIELD_MISSING', del([...TARGET, 'length'])),
  m('target without hashes', 'targets', 'FIELD_MISSING', del([...TARGET, 'hashes'])),
  m('no meta', 'snapshot', 'FIELD_MISSING', del([S, 'meta'])),
  m('snapshot missing the root pin', 'snapshot', 'FIELD_MISSING', del([S, 'meta', 'root'])),
  m('snapshot missing the targets pin', 'snapshot', 'FIELD_MISSING', del([S, 'meta', 'targets'])),
  m(
    'snapshot pins targets by sha512 only',
    'snapshot',
    'FIELD_MISSING',
    del([S, 'meta', 'targets', 'hashes', 'sha256']),
  ),
  m('timestamp without snapshot pin', 'timestamp', 'FIELD_MISSING', del([S, 'meta', 'snapshot'])),
  m(
    'timestamp pins a misnamed snapshot',
    'timestamp',
    'FIELD_MISSING',
    rename([S, 'meta', 'snapshot'], 'snapshot.json'),
  ),
  m(
    'field name in another case (Go would match it, we must not)',
    'root',
    'FIELD_MISSING',
    rename([S, 'version'], 'Version'),
  ),
];

const unknownMutations: Mutation[] = [
  m('unknown top-level member', 'root', 'FIELD_UNKNOWN', set(['extra'], 1)),
  m('unknown member in signed', 'root', 'FIELD_UNKNOWN', set([S, 'spec_version'], '1.0')),
  m(
    'targets carrying consistent_snapshot',
    'targets',
    'FIELD_UNKNOWN',
    set([S, 'consistent_snapshot'], false),
  ),
  m('unknown member in keyval', 'root', 'FIELD_UNKNOWN', set([...ROOT_KEY, 'keyval', 'x509'], '')),
  m('unknown member in key', 'root', 'FIELD_UNKNOWN', set([...ROOT_KEY, 'scheme'], 'ecdsa')),
  m(
    'unknown member in a root role',
    'root',
    'FIELD_UNKNOWN',
    set([S, 'roles', 'root', 'paths'], ['']),
  ),
  m(
    'a fifth role in root',
    'root',
    'FIELD_UNKNOWN',
    set([S, 'roles', 'targets/releases'], { keyids: [], threshold: 1 }),
  ),
  m(
    'path_hash_prefixes in a delegation',
    'targets',
    'FIELD_UNKNOWN',
    set([...DROLE, 'path_hash_prefixes'], ['ab']),
  ),
  m('unknown member in FileMeta', 'targets', 'FIELD_UNKNOWN', set([...TARGET, 'Custom'], {})),
  m(
    'unknown member in delegations',
    'targets',
    'FIELD_UNKNOWN',
    set([...DELEG, 'terminating'], true),
  ),
  m('unknown member in a signature', 'root', 'FIELD_UNKNOWN', set([...SIG, 'isvalid'], true)),
  m(
    'timestamp with extra meta',
    'timestamp',
    'FIELD_UNKNOWN',
    jsonEdit((d) => {
      const snap = getAt(d, [S, 'meta', 'snapshot']);
      setAt(d, [S, 'meta', 'root'], snap);
    }),
  ),
  m(
    '__proto__ member at top level',
    'root',
    'FIELD_UNKNOWN',
    replaceText('{"signed":', '{"__proto__":{"signed":1},"signed":'),
  ),
  m(
    '__proto__ member in signed',
    'root',
    'FIELD_UNKNOWN',
    replaceText('{"_type":', '{"__proto__":{"version":1},"_type":'),
  ),
  m(
    'constructor member in keyval',
    'root',
    'FIELD_UNKNOWN',
    replaceText('"private":null', '"constructor":{},"private":null'),
  ),
  m(
    '__proto__ member in a FileMeta',
    'targets',
    'FIELD_UNKNOWN',
    replaceText('"length":8', '"length":8,"__proto__":null'),
  ),
];

const base64Mutations: Mutation[] = [
  m(
    'unpadded public key',
    'root',
    'BASE64_INVALID',
    update([...ROOT_KEY, 'keyval', 'public'], (v) => str(v).replace(/=+$/, '')),
  ),
  m(
    'url-safe alphabet in a sig',
    'targets',
    'BASE64_INVALID',
    update([...SIG, 'sig'], (v) => str(v).replace(/\//g, '_').replace(/\+/g, '-')),
  ),
  m(
    'space inside a sig',
    'root',
    'BASE64_INVALID',
    update([...SIG, 'sig'], (v) => str(v).slice(0, 8) + ' ' + str(v).slice(8)),
  ),
  m(
    'escaped newline inside a hash',
    'targets',
    'BASE64_INVALID',
    update([...TARGET, 'hashes', 'sha256'], (v) => str(v).slice(0, 20) + '\n' + str(v).slice(20)),
  ),
  m(
    'non-canonical trailing bits in a sig',
    'root',
    'BASE64_INVALID',
    update([...SIG, 'sig'], (v) => nonCanonicalBase64(str(v))),
  ),
  m(
    'non-canonical trailing bits in a hash',
    'snapshot',
    'BASE64_INVALID',
    update([S, 'meta', 'root', 'hashes', 'sha256'], (v) => nonCanonicalBase64(str(v))),
  ),
  m(
    'non-canonical trailing bits in an ed25519 key',
    'root',
    'BASE64_INVALID',
    update([S, 'keys', '$1', 'keyval', 'public'], (v) => nonCanonicalBase64(str(v))),
  ),
  m(
    'over-padded hash',
    'targets',
    'BASE64_INVALID',
    update([...TARGET, 'hashes', 'sha256'], (v) => str(v) + '='),
  ),
  m(
    'padding in the middle',
    'timestamp',
    'BASE64_INVALID',
    update([...SIG, 'sig'], (v) => 'AA==' + str(v)),
  ),
  m(
    'non-alphabet character',
    'timestamp',
    'BASE64_INVALID',
    update([S, 'meta', 'snapshot', 'hashes', 'sha256'], (v) => '*' + str(v).slice(1)),
  ),
];

/** A different but valid key ID (the snapshot key's in the final root). */
const SNAPSHOT_KEY_ID = 'f0b823ebe835acbf8e520a7dffd071f123439076164e1f0e2004210195afd90d';

const signatureMutations: Mutation[] = [
  m(
    'flipped byte in the sig',
    'root',
    'THRESHOLD_NOT_MET',
    editBase64([...SIG, 'sig'], (b) => {
      b.writeUInt8(b.readUInt8(5) ^ 0x40, 5);
      return b;
    }),
    verify,
  ),
  m(
    'flipped byte in an ed25519 sig',
    'timestamp',
    'THRESHOLD_NOT_MET',
    editBase64([...SIG, 'sig'], (b) => {
      b.writeUInt8(b.readUInt8(63) ^ 1, 63);
      return b;
    }),
    verify,
  ),
  m(
    'truncated sig (63 bytes)',
    'targets',
    'THRESHOLD_NOT_MET',
    editBase64([...SIG, 'sig'], (b) => b.subarray(0, 63)),
    verify,
  ),
  m(
    'sig one byte too long',
    'targets',
    'THRESHOLD_NOT_MET',
    editBase64([...SIG, 'sig'], (b) => Buffer.concat([b, Buffer.from([0])])),
    verify,
  ),
  m(
    'sig as DER instead of r||s',
    'targets/releases',
    'THRESHOLD_NOT_MET',
    editBase64([...SIG, 'sig'], (b) =>
      Buffer.concat([
        Buffer.from([0x30, 0x44, 0x02, 0x20]),
        b.subarray(0, 32),
        Buffer.from([0x02, 0x20]),
        b.subarray(32),
      ]),
    ),
    verify,
  ),
  m('empty sig', 'snapshot', 'THRESHOLD_NOT_MET', set([...SIG, 'sig'], ''), verify),
  m('no signatures at all', 'root', 'THRESHOLD_NOT_MET', set(['signatures'], []), verify),
  m(
    'keyid of another key of the root',
    'root',
    'THRESHOLD_NOT_MET',
    set([...SIG, 'keyid'], SNAPSHOT_KEY_ID),
    verify,
  ),
  m('unknown method', 'targets', 'THRESHOLD_NOT_MET', set([...SIG, 'method'], 'rsapss'), verify),
  m(
    'method named like an Object member',
    'targets',
    'THRESHOLD_NOT_MET',
    set([...SIG, 'method'], 'constructor'),
    verify,
  ),
  m('method __proto__', 'root', 'THRESHOLD_NOT_MET', set([...SIG, 'method'], '__proto__'), verify),
  m(
    'eddsa method on an ecdsa key',
    'targets',
    'THRESHOLD_NOT_MET',
    set([...SIG, 'method'], 'eddsa'),
    verify,
  ),
  m(
    'ecdsa method on an ed25519 key',
    'timestamp',
    'THRESHOLD_NOT_MET',
    set([...SIG, 'method'], 'ecdsa'),
    verify,
  ),
  m(
    'signature of another file',
    'targets/releases',
    'THRESHOLD_NOT_MET',
    jsonEdit((d) => {
      const other = JSON.parse(vector(BEFORE, 'targets/releases').toString('utf8')) as JsonObject;
      setAt(d, ['signatures'], getAt(other, ['signatures']));
    }),
    verify,
  ),
  m(
    'signed content changed under the signature',
    'targets',
    'THRESHOLD_NOT_MET',
    update([S, 'version'], (v) => Number(v) + 1),
    verify,
  ),
  m(
    'root signed by the targets key',
    'root',
    'THRESHOLD_NOT_MET',
    jsonEdit((d) => {
      const t = JSON.parse(vector(FINAL, 'targets').toString('utf8')) as JsonObject;
      setAt(d, ['signatures'], getAt(t, ['signatures']));
    }),
    verify,
  ),
  m(
    'delegation signed by the other delegation key',
    'targets/releases',
    'THRESHOLD_NOT_MET',
    jsonEdit((d) => {
      const ci = JSON.parse(vector(FINAL, 'targets/ci').toString('utf8')) as JsonObject;
      setAt(d, ['signatures'], getAt(ci, ['signatures']));
    }),
    verify,
  ),
  m('uppercase method', 'root', 'FIELD_VALUE', set([...SIG, 'method'], 'ECDSA')),
  m('empty method', 'root', 'FIELD_VALUE', set([...SIG, 'method'], '')),
  m(
    'uppercase hex keyid',
    'root',
    'FIELD_VALUE',
    update([...SIG, 'keyid'], (v) => str(v).toUpperCase()),
  ),
  m(
    'short keyid',
    'root',
    'FIELD_VALUE',
    update([...SIG, 'keyid'], (v) => str(v).slice(1)),
  ),
];

const typeMismatchMutations: Mutation[] = [
  m('_type of another role', 'root', 'TYPE_MISMATCH', set([S, '_type'], 'Targets')),
  m('_type lowercase', 'root', 'TYPE_MISMATCH', set([S, '_type'], 'root')),
  m('_type empty', 'snapshot', 'TYPE_MISMATCH', set([S, '_type'], '')),
  m('_type "Delegation"', 'targets/releases', 'TYPE_MISMATCH', set([S, '_type'], 'Delegation')),
  m(
    'timestamp parsed as snapshot',
    'timestamp',
    'TYPE_MISMATCH',
    () => vector(FINAL, 'timestamp'),
    { parseAs: 'snapshot' },
  ),
  m('snapshot parsed as timestamp', 'snapshot', 'TYPE_MISMATCH', () => vector(FINAL, 'snapshot'), {
    parseAs: 'timestamp',
  }),
];

const numberMutations: Mutation[] = [
  m('version 1e400', 'root', 'JSON_INVALID', replaceText('"version":2', '"version":1e400')),
  m(
    'version 2.0 (Go cannot decode it into an int)',
    'root',
    'JSON_INVALID',
    replaceText('"version":2', '"version":2.0'),
  ),
  m('version 2e0', 'targets/releases', 'JSON_INVALID', replaceText('"version":2', '"version":2e0')),
  m(
    'fractional threshold',
    'root',
    'JSON_INVALID',
    replaceText('"threshold":1', '"threshold":1.5'),
  ),
  m('fractional length', 'targets', 'JSON_INVALID', replaceText('"length":8', '"length":8.5')),
  m(
    'version 2^53+1',
    'root',
    'FIELD_VALUE',
    replaceText('"version":2', '"version":9007199254740993'),
  ),
  m(
    'version 2^53',
    'snapshot',
    'FIELD_VALUE',
    replaceText('"version":6', '"version":9007199254740992'),
  ),
  m(
    'version 99999999999999999999',
    'timestamp',
    'FIELD_VALUE',
    replaceText('"version":5', '"version":99999999999999999999'),
  ),
  m('version 0', 'root', 'FIELD_VALUE', set([S, 'version'], 0)),
  m('negative version', 'targets', 'FIELD_VALUE', set([S, 'version'], -3)),
  m('negative length', 'snapshot', 'FIELD_VALUE', set([S, 'meta', 'root', 'length'], -1)),
  m(
    'huge length',
    'targets',
    'FIELD_VALUE',
    replaceText('"length":8', '"length":18446744073709551616'),
  ),
  m('threshold 0', 'root', 'FIELD_VALUE', set([S, 'roles', 'root', 'threshold'], 0)),
  m('negative threshold', 'targets', 'FIELD_VALUE', set([...DROLE, 'threshold'], -1)),
  m('leading zero number', 'root', 'JSON_INVALID', replaceText('"version":2', '"version":02')),
  m('plus-signed number', 'root', 'JSON_INVALID', replaceText('"version":2', '"version":+2')),
  m('hex number', 'root', 'JSON_INVALID', replaceText('"version":2', '"version":0x2')),
  m('NaN', 'root', 'JSON_INVALID', replaceText('"version":2', '"version":NaN')),
];

const DUP = 'JSON_DUPLICATE_KEY';
const duplicateMutations: Mutation[] = [
  m(
    'duplicate signatures member',
    'root',
    DUP,
    textEdit((t) => t.slice(0, -1) + ',"signatures":[]}'),
  ),
  m(
    'duplicate signed member',
    'timestamp',
    DUP,
    textEdit((t) => t.slice(0, -1) + ',"signed":{}}'),
  ),
  m(
    'duplicate version inside signed',
    'snapshot',
    DUP,
    replaceText('"version":6', '"version":6,"version":7'),
  ),
  m('duplicate _type', 'root', DUP, replaceText('"_type":"Root"', '"_type":"Root","_type":"Root"')),
  m(
    'duplicate spelled with an escape',
    'root',
    DUP,
    replaceText('"version":2', '"version":2,"versio\\u006e":3'),
  ),
  m(
    'duplicate private in keyval',
    'root',
    DUP,
    replaceText('"private":null', '"private":null,"private":null'),
  ),
  m(
    'duplicate key ID in keys',
    'root',
    DUP,
    textEdit((t) => {
      const mm =
        /"keys":\{("[0-9a-f]{64}":\{"keytype":"[^"]+","keyval":\{"private":null,"public":"[^"]+"\}\})/.exec(
          t,
        );
      if (!mm?.[1]) throw new Error('no key entry');
      return t.replace(mm[1], `${mm[1]},${mm[1]}`);
    }),
  ),
  m(
    'duplicate role in roles',
    'root',
    DUP,
    textEdit((t) => {
      const mm = /("timestamp":\{"keyids":\["[0-9a-f]{64}"\],"threshold":1\})/.exec(t);
      if (!mm?.[1]) throw new Error('no timestamp role');
      return t.replace(mm[1], `${mm[1]},${mm[1]}`);
    }),
  ),
  m(
    'duplicate threshold in a role',
    'root',
    DUP,
    replaceText('"threshold":1', '"threshold":1,"threshold":2'),
  ),
  m(
    'duplicate target name',
    'targets/releases',
    DUP,
    textEdit((t) => {
      const mm = /("v1\.1":\{"hashes":\{[^}]*\},"length":8\})/.exec(t);
      if (!mm?.[1]) throw new Error('no target');
      return t.replace(mm[1], `${mm[1]},${mm[1]}`);
    }),
  ),
  m(
    'duplicate hash algorithm',
    'snapshot',
    DUP,
    textEdit((t) => t.replace(/"sha256":("[^"]+")/, '"sha256":$1,"sha256":$1')),
  ),
  m(
    'duplicate member of a signature',
    'targets',
    DUP,
    replaceText('"method":"ecdsa"', '"method":"ecdsa","method":"ecdsa"'),
  ),
  m(
    'duplicate name in a delegated role',
    'targets',
    DUP,
    replaceText('"name":"targets/ci"', '"name":"targets/ci","name":"targets/ci"'),
  ),
  m(
    'duplicate __proto__ members',
    'root',
    DUP,
    replaceText('{"signed":', '{"__proto__":1,"__proto__":2,"signed":'),
  ),
];

const encodingMutations: Mutation[] = [
  m('empty file', 'root', 'JSON_INVALID', () => Buffer.alloc(0)),
  m('whitespace only', 'root', 'JSON_INVALID', () => Buffer.from(' \n')),
  m(
    'truncated to half',
    'targets',
    'JSON_INVALID',
    bytesEdit((b) => b.subarray(0, b.length >> 1)),
  ),
  m(
    'missing the final brace',
    'timestamp',
    'JSON_INVALID',
    bytesEdit((b) => b.subarray(0, -1)),
  ),
  m(
    'trailing garbage',
    'root',
    'JSON_INVALID',
    bytesEdit((b) => Buffer.concat([b, Buffer.from('x')])),
  ),
  m(
    'a second JSON value after the first',
    'snapshot',
    'JSON_INVALID',
    bytesEdit((b) => Buffer.concat([b, Buffer.from('{}')])),
  ),
  m(
    'NUL after the value',
    'snapshot',
    'JSON_INVALID',
    bytesEdit((b) => Buffer.concat([b, Buffer.from([0])])),
  ),
  m(
    'UTF-8 byte-order mark',
    'root',
    'JSON_INVALID',
    bytesEdit((b) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b])),
  ),
  m(
    'UTF-16LE encoding',
    'timestamp',
    'JSON_INVALID',
    bytesEdit((b) => Buffer.from(b.toString('utf8'), 'utf16le')),
  ),
  m(
    'invalid UTF-8 byte 0xff in a string',
    'targets',
    'JSON_INVALID',
    replaceWithBytes('v1.0', [0x76, 0xff, 0x2e, 0x30]),
  ),
  m(
    'overlong UTF-8 encoding of "/"',
    'targets',
    'JSON_INVALID',
    replaceWithBytes('"ci/"', [0x22, 0x63, 0x69, 0xc0, 0xaf, 0x22]),
  ),
  m(
    'UTF-8 encoded surrogate',
    'targets/releases',
    'JSON_INVALID',
    replaceWithBytes('v1.1', [0xed, 0xa0, 0x80]),
  ),
  m(
    'truncated multi-byte sequence',
    'targets/releases',
    'JSON_INVALID',
    replaceWithBytes('v1.1', [0x76, 0xe2, 0x82]),
  ),
  m(
    'raw control character in a target name',
    'targets',
    'JSON_INVALID',
    replaceWithBytes('v1.0', [0x76, 0x01]),
  ),
  m(
    'raw tab in a string',
    'root',
    'JSON_INVALID',
    replaceWithBytes('"Root"', [0x22, 0x09, 0x52, 0x6f, 0x6f, 0x74, 0x22]),
  ),
  m(
    'escaped control character in a target name',
    'targets',
    'CANONICAL_UNREPRESENTABLE',
    replaceText('"v1.0"', '"v1.0\\u0007"'),
  ),
  m(
    'escaped NUL in a delegation path',
    'targets',
    'CANONICAL_UNREPRESENTABLE',
    replaceText('"ci/"', '"ci/\\u0000"'),
  ),
  m(
    'lone high surrogate escape',
    'targets/releases',
    'JSON_INVALID',
    replaceText('"v1.1"', '"v1.1\\ud800"'),
  ),
  m(
    'lone low surrogate escape',
    'targets/releases',
    'JSON_INVALID',
    replaceText('"v1.1"', '"\\udc00v1.1"'),
  ),
  m(
    'high surrogate escape before a non-surrogate escape',
    'targets/releases',
    'JSON_INVALID',
    replaceText('"v1.1"', '"\\ud83d\\u0041"'),
  ),
  m('invalid escape', 'root', 'JSON_INVALID', replaceText('"Root"', '"\\x52oot"')),
  m('short \\u escape', 'root', 'JSON_INVALID', replaceText('"Root"', '"\\u52"')),
  m('single-quoted member name', 'root', 'JSON_INVALID', replaceText('"_type"', "'_type'")),
  m(
    'trailing comma in an object',
    'snapshot',
    'JSON_INVALID',
    replaceText('"version":6', '"version":6,'),
  ),
  m(
    'trailing comma in an array',
    'root',
    'JSON_INVALID',
    textEdit((t) => t.replace(/("keyids":\["[0-9a-f]{64}")\]/, '$1,]')),
  ),
  m('comment', 'root', 'JSON_INVALID', replaceText('{"signed":', '{/* c */"signed":')),
  m(
    'nesting beyond the depth bound in custom',
    'targets',
    'JSON_TOO_DEEP',
    replaceText('"length":8', `"length":8,"custom":${nested(70)}`),
  ),
  m('nesting 100000 deep', 'root', 'JSON_TOO_DEEP', () => Buffer.from(nested(100_000))),
  m(
    'objects nested beyond the bound in signed',
    'root',
    'JSON_TOO_DEEP',
    replaceText('{"_type":', `{"x":${'{"a":'.repeat(80)}1${'}'.repeat(80)},"_type":`),
  ),
];

const keyRoleMutations: Mutation[] = [
  m(
    'key filed under a wrong ID',
    'root',
    'KEY_ID_MISMATCH',
    jsonEdit((d) => {
      const keys = getAt(d, [S, 'keys']) as JsonObject;
      const [a, b] = Object.keys(keys);
      const ka = keys[a as string] as JsonValue;
      setAt(keys, [a as string], keys[b as string] as JsonValue);
      setAt(keys, [b as string], ka);
    }),
  ),
  m(
    'key public bytes changed',
    'root',
    'KEY_ID_MISMATCH',
    editBase64([...ROOT_KEY, 'keyval', 'public'], (b) => {
      b.writeUInt8(b.readUInt8(40) ^ 1, 40);
      return b;
    }),
  ),
  m(
    'keytype spelled in uppercase',
    'root',
    'KEY_ID_MISMATCH',
    set([...ROOT_KEY, 'keytype'], 'ECDSA'),
  ),
  m(
    'delegation key filed under a wrong ID',
    'targets',
    'KEY_ID_MISMATCH',
    update([...DELEG, 'keys'], (v) => {
      const o = v as JsonObject;
      const [id] = Object.keys(o);
      const out: JsonObject = {};
      for (const k of Object.keys(o)) out[k === id ? '0'.repeat(64) : k] = o[k] as JsonValue;
      return out;
    }),
  ),
  m(
    'keyval.private holds a value',
    'root',
    'FIELD_VALUE',
    set([...ROOT_KEY, 'keyval', 'private'], 'AAAA'),
  ),
  m(
    'keyval.private is an object',
    'root',
    'FIELD_VALUE',
    set([...ROOT_KEY, 'keyval', 'private'], {}),
  ),
  m(
    'role keyid not in keys',
    'root',
    'FIELD_VALUE',
    set([S, 'roles', 'root', 'keyids', 0], 'a'.repeat(64)),
  ),
  m(
    'duplicate keyids in a role',
    'root',
    'FIELD_VALUE',
    update([S, 'roles', 'timestamp', 'keyids'], (v) => [
      ...(v as JsonValue[]),
      ...(v as JsonValue[]),
    ]),
  ),
  m(
    'role keyid not hex',
    'root',
    'FIELD_VALUE',
    set([S, 'roles', 'snapshot', 'keyids', 0], 'z'.repeat(64)),
  ),
  m(
    'delegation keyid not in delegation keys',
    'targets',
    'FIELD_VALUE',
    set([...DROLE, 'keyids', 0], 'b'.repeat(64)),
  ),
  m(
    'delegation lists a root key',
    'targets',
    'FIELD_VALUE',
    set([...DROLE, 'keyids', 0], SNAPSHOT_KEY_ID),
  ),
  m('delegation threshold 0', 'targets', 'FIELD_VALUE', set([...DROLE, 'threshold'], 0)),
  m(
    'role delegated twice',
    'targets',
    'FIELD_VALUE',
    jsonEdit((d) => setAt(d, [...DELEG, 'roles', 1, 'name'], 'targets/releases')),
  ),
  m('paths: [] (Go drops it)', 'targets', 'FIELD_VALUE', set([...DROLE, 'paths'], [])),
  m('paths: null', 'targets', 'FIELD_TYPE', set([...DROLE, 'paths'], null)),
  m(
    'delegation not directly under its parent',
    'targets',
    'ROLE_NAME_INVALID',
    set([...DROLE, 'name'], 'targets/releases/nested'),
  ),
  m('delegation named targets', 'targets', 'ROLE_NAME_INVALID', set([...DROLE, 'name'], 'targets')),
  m('delegation named root', 'targets', 'ROLE_NAME_INVALID', set([...DROLE, 'name'], 'root')),
  m(
    'delegation name with uppercase',
    'targets',
    'ROLE_NAME_INVALID',
    set([...DROLE, 'name'], 'targets/Releases'),
  ),
  m(
    'delegation name with ..',
    'targets',
    'ROLE_NAME_INVALID',
    set([...DROLE, 'name'], 'targets/../root'),
  ),
  m(
    'delegation name with a trailing slash',
    'targets',
    'ROLE_NAME_INVALID',
    set([...DROLE, 'name'], 'targets/releases/'),
  ),
  m(
    'delegation name with an empty segment',
    'targets',
    'ROLE_NAME_INVALID',
    set([...DROLE, 'name'], 'targets//releases'),
  ),
  m(
    'delegation name of 256 characters',
    'targets',
    'ROLE_NAME_INVALID',
    set([...DROLE, 'name'], 'targets/' + 'a'.repeat(248)),
  ),
  m(
    'delegation name with a space',
    'targets',
    'ROLE_NAME_INVALID',
    set([...DROLE, 'name'], 'targets/rel eases'),
  ),
  m(
    'a delegation delegating to a sibling',
    'targets/releases',
    'ROLE_NAME_INVALID',
    jsonEdit((d) => {
      const t = JSON.parse(vector(FINAL, 'targets').toString('utf8')) as JsonObject;
      setAt(d, [...DELEG], getAt(t, [...DELEG]));
    }),
  ),
  m(
    'parsed as an uppercase role',
    'targets/releases',
    'ROLE_NAME_INVALID',
    () => vector(FINAL, 'targets/releases'),
    { parseAs: 'targets/Releases' },
  ),
  m(
    'parsed as a role Notary does not have',
    'targets',
    'ROLE_NAME_INVALID',
    () => vector(FINAL, 'targets'),
    { parseAs: 'releases' },
  ),
  m('custom: null', 'targets', 'FIELD_VALUE', set([...TARGET, 'custom'], null)),
  m(
    'custom with a fraction',
    'targets',
    'JSON_INVALID',
    replaceText('"length":8', '"length":8,"custom":{"size":0.5}'),
  ),
  m(
    'sha256 digest of 31 bytes',
    'targets',
    'FIELD_VALUE',
    editBase64([...TARGET, 'hashes', 'sha256'], (b) => b.subarray(1)),
  ),
  m(
    'sha512 digest of 32 bytes',
    'snapshot',
    'FIELD_VALUE',
    jsonEdit((d) =>
      setAt(
        d,
        [S, 'meta', 'targets', 'hashes', 'sha512'],
        getAt(d, [S, 'meta', 'targets', 'hashes', 'sha256']),
      ),
    ),
  ),
  m(
    'sha256 digest of 64 bytes',
    'timestamp',
    'FIELD_VALUE',
    jsonEdit((d) =>
      setAt(
        d,
        [S, 'meta', 'snapshot', 'hashes', 'sha256'],
        getAt(d, [S, 'meta', 'snapshot', 'hashes', 'sha512']),
      ),
    ),
  ),
];

const EXP = 'EXPIRES_INVALID';
const expires = (file: FileRole, name: string, value: string): Mutation =>
  m(`expires ${name}`, file, EXP, set([S, 'expires'], value));

const expiresMutations: Mutation[] = [
  expires('root', 'without a zone', '2036-11-19T00:00:22.459030849'),
  expires('root', 'garbage', 'tomorrow'),
  expires('root', 'empty', ''),
  expires('targets', 'day 31 in a 30-day month', '2029-11-31T00:00:22Z'),
  expires('targets', '29 February in a common year', '2029-02-29T00:00:22Z'),
  expires('snapshot', 'month 13', '2029-13-01T00:00:22Z'),
  expires('snapshot', 'month 00', '2029-00-01T00:00:22Z'),
  expires('snapshot', 'day 00', '2029-01-00T00:00:22Z'),
  expires('timestamp', 'hour 24', '2026-12-06T24:00:00Z'),
  expires('timestamp', 'minute 60', '2026-12-06T23:60:00Z'),
  expires('timestamp', 'leap second', '2026-12-31T23:59:60Z'),
  expires('root', 'with a 10-digit fraction', '2036-11-19T00:00:22.4590308491Z'),
  expires('root', 'with an empty fraction', '2036-11-19T00:00:22.Z'),
  expires('root', 'with a comma fraction', '2036-11-19T00:00:22,5Z'),
  expires('targets/releases', 'with lowercase z', '2029-11-21T00:00:22z'),
  expires('targets/releases', 'with lowercase t', '2029-11-21t00:00:22Z'),
  expires('targets/releases', 'with a space for T', '2029-11-21 00:00:22Z'),
  expires('targets/releases', 'with an offset without colon', '2029-11-21T00:00:22+0000'),
  expires('targets/releases', 'with offset hour 24', '2029-11-21T00:00:22+24:00'),
  expires('targets/releases', 'with offset minute 60', '2029-11-21T00:00:22+05:60'),
  expires('snapshot', 'with a 5-digit year', '12029-11-21T00:00:22Z'),
  expires('snapshot', 'with a 2-digit year', '29-11-21T00:00:22Z'),
  expires('snapshot', 'as a date only', '2029-11-21'),
  expires('snapshot', 'without seconds', '2029-11-21T00:00Z'),
  expires('timestamp', 'with a zone name', '2026-12-06T00:00:22 UTC'),
  expires('timestamp', 'with surrounding space', ' 2026-12-06T00:00:22Z'),
];

/** Every named mutation. */
export const MUTATIONS: readonly Mutation[] = [
  ...typeMutations,
  ...missingMutations,
  ...unknownMutations,
  ...base64Mutations,
  ...signatureMutations,
  ...typeMismatchMutations,
  ...numberMutations,
  ...duplicateMutations,
  ...encodingMutations,
  ...keyRoleMutations,
  ...expiresMutations,
];

// ---------------------------------------------------------------------------------------
// Random mutations (deterministic)

/** mulberry32: a small seeded PRNG, so every run mutates identically. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rand = () => number;
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const int = (rand: Rand, n: number): number => Math.floor(rand() * n);

/** Byte strings that tend to matter to a JSON reader. */
const TOKENS: readonly (string | number[])[] = [
  '"',
  '\\',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '0',
  '-',
  '.',
  'e',
  ' ',
  'null',
  'true',
  '\\u0000',
  '\\ud800',
  '\\udc00',
  '\\u003c',
  '\\"',
  '"__proto__":1,',
  '"a":1,',
  '1e400',
  '9007199254740993',
  '\u2028',
  'é',
  '😀',
  '<&>',
  [0xff],
  [0xc3],
  [0xed, 0xa0, 0x80],
  [0x00],
  [0xef, 0xbb, 0xbf],
  [0x1f],
];

/** Values a JSON replacement may put anywhere. */
const VALUES: readonly JsonValue[] = [
  null,
  true,
  false,
  0,
  -1,
  1,
  2,
  1.5,
  Number.MAX_SAFE_INTEGER + 1,
  '',
  'x',
  'ecdsa',
  'Root',
  'Targets',
  'eddsa',
  'constructor',
  '__proto__',
  'targets/x',
  'a<b&c>é',
  '\u2028',
  '😀',
  '\uE000',
  '2030-01-01T00:00:00Z',
  '2030-01-01T00:00:00.000+00:00',
  'AAAA',
  'AA==',
  '0'.repeat(64),
  [],
  [''],
  ['x'],
  {},
  { a: 1 },
  { keyids: [], threshold: 1 },
  { hashes: {}, length: 0 },
];

function rawOp(rand: Rand, b: Buffer): Buffer {
  if (b.length === 0) return Buffer.from(pick(rand, ['{}', '[]', '"', 'null']));
  const at = int(rand, b.length);
  switch (int(rand, 5)) {
    case 0: {
      const out = Buffer.from(b);
      out.writeUInt8(out.readUInt8(at) ^ (1 << int(rand, 8)), at);
      return out;
    }
    case 1:
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(rand, 16))]);
    case 2: {
      const tok = pick(rand, TOKENS);
      const ins = typeof tok === 'string' ? Buffer.from(tok, 'utf8') : Buffer.from(tok);
      return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
    }
    case 3: {
      const len = 1 + int(rand, 40);
      return Buffer.concat([
        b.subarray(0, at + len),
        b.subarray(at, at + len),
        b.subarray(at + len),
      ]);
    }
    default: {
      const out = Buffer.from(b);
      out.writeUInt8(int(rand, 256), at);
      return out;
    }
  }
}

/** Every path to a value in `doc` (root excluded). */
function paths(doc: JsonValue, prefix: Seg[] = [], out: Seg[][] = []): Seg[][] {
  if (Array.isArray(doc)) {
    doc.forEach((v, i) => {
      out.push([...prefix, i]);
      paths(v, [...prefix, i], out);
    });
  } else if (isObj(doc)) {
    for (const k of Object.keys(doc)) {
      out.push([...prefix, k]);
      paths(doc[k] as JsonValue, [...prefix, k], out);
    }
  }
  return out;
}

function jsonOp(rand: Rand, b: Buffer): Buffer {
  let doc: JsonValue;
  try {
    doc = JSON.parse(b.toString('utf8')) as JsonValue;
  } catch {
    return rawOp(rand, b);
  }
  const all = paths(doc);
  if (all.length === 0) return rawOp(rand, b);
  const path = pick(rand, all);
  const [c, k] = locate(doc, path);
  switch (int(rand, 5)) {
    case 0:
    case 1:
      setAt(doc, path, structuredClone(pick(rand, VALUES)));
      break;
    case 2:
      deleteAt(doc, path);
      break;
    case 3:
      if (Array.isArray(c)) c.push(structuredClone(c[k as number] as JsonValue));
      else
        setAt(
          c,
          [pick(rand, ['custom', 'paths', '__proto__', 'x', 'Version', 'root', 'v9'])],
          structuredClone(pick(rand, VALUES)),
        );
      break;
    default:
      if (!Array.isArray(c))
        renameAt(doc, path, pick(rand, ['version', 'keys', 'root', 'targets/y', 'V', '']));
      else setAt(doc, path, structuredClone(pick(rand, VALUES)));
  }
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

/** One to three random raw or JSON-level edits of `ref`. */
export function randomMutation(rand: Rand, ref: Buffer): Buffer {
  let out = ref;
  const n = 1 + int(rand, 3);
  for (let i = 0; i < n; i++) out = rand() < 0.5 ? rawOp(rand, out) : jsonOp(rand, out);
  return out;
}
