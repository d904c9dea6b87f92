/**
 * Generative fuzzing of notary-hsmd's REST API (fast-check, seeded: FUZZ_SEED replays a
 * run, FUZZ_API_RUNS changes the count) against the real daemon on a SoftHSM2 token.
 *
 * Each run is a plan: an endpoint, a body — a valid document changed by up to four
 * mutations (members dropped, duplicated in the raw text, retyped, nested deeply, renamed
 * to Unicode look-alikes, prototype names added, numbers too large or malformed, the GUN
 * swapped for a look-alike, the text truncated or re-encoded) or one made from scratch —
 * and headers (bearer token, content type, method, path, Host, chunked). The test's oracle
 * labels each plan: `sign` (a valid request, re-encoded at most), `refuse` (a client's
 * mistake) or `either` (a change the oracle does not judge, e.g. a prototype name used as
 * a target name).
 *
 * Invariants: never a 5xx; every error in the one error format with a code from the known
 * set; `sign` plans are signed and `refuse` plans are not; whatever is signed is signed
 * over the canonical bytes of the document that was sent; /healthz answers afterwards; the
 * audit log holds exactly one `signed` record per signed answer and none for anything else;
 * the daemon's RSS after the run is within the bound below.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ERROR_CODES } from '../../src/errors';
import { isJsonObject, parseJson, type JsonObject, type JsonValue } from '../../src/metadata/json';
import type { TufKey } from '../../src/metadata/keys';
import {
  auditRecords,
  daemonKeys,
  errorOf,
  rootCertificate,
  rootDoc,
  send,
  signaturesOf,
  signatureVerifies,
  targetsDoc,
  type ApiResponse,
} from '../helpers/daemon-api';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import { fuzzRuns, fuzzSeed } from '../helpers/fuzz-seed';
import { DUPLICATES, RawText, writeJson, type TextStyle } from '../helpers/json-text';
import { keepAliveAgent } from '../helpers/raw-http';

const RUNS = fuzzRuns('FUZZ_API_RUNS', 10_000);
const RUN = randomBytes(4).toString('hex');
const ROOT_GUN = 'localhost:5000/e2e/fuzz-root';
/** The daemon's own codes (HTTP layer) and the product's typed errors: the known set. */
const KNOWN_CODES: ReadonlySet<string> = new Set([
  ...ERROR_CODES,
  'BAD_REQUEST',
  'BAD_JSON',
  'UNKNOWN_FIELD',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'HOST_NOT_ALLOWED',
  'BODY_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
]);

type Endpoint = 'root' | 'targets' | 'delegation' | 'certificates' | 'keys';
type Verdict = 'sign' | 'refuse' | 'either';
type Path = (string | number)[];

const PATHS: Readonly<Record<Endpoint, string>> = {
  root: '/v1/sign/root',
  targets: '/v1/sign/targets',
  delegation: '/v1/sign/delegation',
  certificates: '/v1/certificates/root',
  keys: '/v1/keys',
};
const SIGNING: ReadonlySet<Endpoint> = new Set(['root', 'targets', 'delegation']);

type Op =
  | { op: 'drop'; at: number }
  | { op: 'retype'; at: number; value: JsonValue }
  | { op: 'duplicate'; at: number }
  | { op: 'proto'; at: number; name: string; value: JsonValue }
  | { op: 'nest'; at: number; depth: number; array: boolean }
  | { op: 'number'; field: 'version' | 'length'; text: string }
  | { op: 'rename'; at: number; how: number }
  | { op: 'gun'; value: string };

type Body =
  | { kind: 'mutated'; ops: Op[] }
  | { kind: 'scratch'; value: JsonValue }
  | { kind: 'bytes'; bytes: Uint8Array };

interface Plan {
  readonly endpoint: Endpoint;
  readonly body: Body;
  readonly style: TextStyle;
  readonly truncate: number | null;
  readonly encoding: 'utf8' | 'utf16le' | 'bom';
  readonly auth: number;
  readonly contentType: number;
  readonly method: string;
  readonly path: number;
  readonly host: number;
  readonly gzip: boolean;
  readonly chunked: boolean;
}

/** Content types with the oracle's verdict. */
const CONTENT_TYPES: readonly [string | null, Verdict][] = [
  ['application/json', 'sign'],
  ['application/json; charset=utf-8', 'either'],
  ['APPLICATION/JSON', 'either'],
  [null, 'refuse'],
  ['text/plain', 'refuse'],
  ['application/x-www-form-urlencoded', 'refuse'],
  ['multipart/form-data; boundary=x', 'refuse'],
  ['application/jsonx', 'refuse'],
  ['application/json; charset=utf-16', 'refuse'],
  ['', 'refuse'],
];

const PATH_VARIANTS: readonly [(p: string) => string, Verdict][] = [
  [(p) => p, 'sign'],
  [(p) => `${p}/`, 'either'],
  [(p) => p.toUpperCase(), 'either'],
  [(p) => `${p}?debug=1`, 'refuse'],
  [(p) => p.replace('/v1/', '/v1//'), 'either'],
  [(p) => p.replace('/v1/', '/v2/'), 'refuse'],
  [(p) => `${p}/..`, 'either'],
  [(p) => `${p}%00`, 'refuse'],
];

const HOSTS: readonly [string | undefined, Verdict][] = [
  [undefined, 'sign'],
  ['attacker.invalid', 'refuse'],
  ['127.0.0.1.attacker.invalid', 'refuse'],
];

/** Look-alikes of an ASCII member name (all different from it). */
const RENAMES: readonly ((s: string) => string)[] = [
  (s) => String.fromCharCode((s.charCodeAt(0) || 0x61) + 0xfee0) + s.slice(1), // fullwidth
  (s) => `${s}\u200b`,
  (s) => `${s}\u0301`,
  (s) => s.replace(/i/g, '\u0131') + (s.includes('i') ? '' : '\u0130'),
  (s) => s.replace(/a/g, '\u0430') + (s.includes('a') ? '' : '\u00e9'.normalize('NFD')),
  (s) => s.toUpperCase() + (s === s.toUpperCase() ? '_' : ''),
  (s) => ` ${s}`,
];

const GUN_LOOKALIKES = [
  'localhost:5000/e2e/ﬁzz',
  'localhost:5000/e2e/fu\u0301zz',
  'LOCALHOST:5000/e2e/fuzz',
  'localhost:5000/e2e/fuzz/',
  'localhost:5000/e2e/../e2e/fuzz',
  'localhost:5000/e2e/fuzz\u0000',
  'localhost:5000/other/fuzz',
  'localhost:５０００/e2e/fuzz',
  'localhost:5000/e2e/fuzz\n',
  '',
];

const HOSTILE_NUMBERS = [
  '1e400',
  '-1',
  '0',
  '-0',
  '1.5',
  '9007199254740993',
  '12345678901234567890123',
  '1E2',
  '0x10',
  '01',
  'NaN',
  'Infinity',
  '1e-400',
];

/** Any JSON value, typed as the project's JsonValue. */
const arbJson = (maxDepth: number): fc.Arbitrary<JsonValue> =>
  fc.jsonValue({ maxDepth }).map((v) => v as JsonValue);

const PROTO_NAMES = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'];

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('retype' as const), at: fc.nat(), value: arbJson(2) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('proto' as const),
    at: fc.nat(),
    name: fc.constantFrom(...PROTO_NAMES),
    value: arbJson(2),
  }),
  fc.record({
    op: fc.constant('nest' as const),
    at: fc.nat(),
    depth: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 60, max: 20_000 })),
    array: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('number' as const),
    field: fc.constantFrom('version' as const, 'length' as const),
    text: fc.constantFrom(...HOSTILE_NUMBERS),
  }),
  fc.record({ op: fc.constant('rename' as const), at: fc.nat(), how: fc.nat(RENAMES.length - 1) }),
  fc.record({ op: fc.constant('gun' as const), value: fc.constantFrom(...GUN_LOOKALIKES) }),
);

const arbBody: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('mutated' as const), ops: fc.constant<Op[]>([]) }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('mutated' as const),
      ops: fc.array(arbOp, { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('scratch' as const), value: arbJson(4) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bytes' as const),
      bytes: fc.uint8Array({ maxLength: 300 }),
    }),
  },
);

/** Mostly well-formed envelopes, so that most runs reach the signing pipeline. */
const usually = <T>(normal: T, other: fc.Arbitrary<T>): fc.Arbitrary<T> =>
  fc.oneof({ weight: 12, arbitrary: fc.constant(normal) }, { weight: 1, arbitrary: other });

const arbPlan: fc.Arbitrary<Plan> = fc.record({
  endpoint: fc.constantFrom<Endpoint>(
    'targets',
    'targets',
    'delegation',
    'root',
    'certificates',
    'keys',
  ),
  body: arbBody,
  style: usually(
    { indent: 0, escapeAll: false, reverse: false },
    fc.record({ indent: fc.constantFrom(0, 2), escapeAll: fc.boolean(), reverse: fc.boolean() }),
  ),
  truncate: usually(null as number | null, fc.nat()),
  encoding: usually('utf8' as const, fc.constantFrom('utf16le' as const, 'bom' as const)),
  auth: usually(0, fc.nat(7)),
  contentType: usually(0, fc.nat(CONTENT_TYPES.length - 1)),
  method: usually('POST', fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS')),
  path: usually(0, fc.nat(PATH_VARIANTS.length - 1)),
  host: usually(0, fc.nat(HOSTS.length - 1)),
  gzip: usually(false, fc.constant(true)),
  chunked: usually(false, fc.constant(true)),
});

const ORDER = (op: Op): number =>
  op.op === 'drop' ? 0 : op.op === 'retype' ? 1 : op.op === 'duplicate' ? 3 : 2;

const worse = (a: Verdict, b: Verdict): Verdict =>
  a === 'refuse' || b === 'refuse'
    ? 'refuse'
    : a === 'either' || b === 'either'
      ? 'either'
      : 'sign';

interface Slot {
  readonly path: Path;
  readonly value: JsonValue;
}

/** A JSON object of the document (not raw text standing in for one). */
const isRecord = (v: JsonValue): v is JsonObject =>
  isJsonObject(v) && !((v as unknown) instanceof RawText);

/** Every member and element of `doc` with its path (the document itself excluded). */
function slots(doc: JsonValue, path: Path = []): Slot[] {
  const out: Slot[] = [];
  if ((doc as unknown) instanceof RawText) return out;
  if (Array.isArray(doc)) {
    doc.forEach((v, i) => out.push({ path: [...path, i], value: v }, ...slots(v, [...path, i])));
  } else if (isJsonObject(doc)) {
    for (const k of Object.keys(doc)) {
      const v = doc[k] as JsonValue;
      out.push({ path: [...path, k], value: v }, ...slots(v, [...path, k]));
    }
  }
  return out;
}

function container(doc: JsonValue, path: Path): JsonValue {
  let cur: JsonValue = doc;
  for (const seg of path) cur = (cur as Record<string | number, JsonValue>)[seg] as JsonValue;
  return cur;
}

/**
 * True when the object at `path` is a map whose member names are data (target names, key
 * IDs, hash algorithms, role names) rather than a record with fixed member names.
 */
function isMap(path: Path): boolean {
  const p = path.join('/');
  return (
    p === 'signed/targets' ||
    p === 'signed/keys' ||
    p === 'signed/roles' ||
    p === 'signed/delegations/keys' ||
    /^signed\/targets\/[^/]+\/hashes$/.test(p)
  );
}

/** Members a request cannot do without (dropping any other one is not judged). */
const REQUIRED = new Set([
  'gun',
  'signed',
  'role',
  'signed/_type',
  'signed/version',
  'signed/expires',
  'token',
  'label',
]);
const REQUIRED_LEAF = new Set([
  'length',
  'hashes',
  'keytype',
  'keyval',
  'public',
  'threshold',
  'keyids',
]);

function setIn(doc: JsonValue, path: Path, value: JsonValue | undefined): void {
  const parent = container(doc, path.slice(0, -1)) as Record<string | number, JsonValue>;
  const last = path[path.length - 1] as string | number;
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else Reflect.deleteProperty(parent, last);
  } else {
    Object.defineProperty(parent, last, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

function typeOf(v: JsonValue): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** The object a `drop` removed a member from (set by mutate, read right after). */
let droppedFrom: object | undefined;
/** Where a `retype` wrote its value (set by mutate, read right after). */
let retyped:
  { readonly parent: object; readonly key: string | number; readonly value: JsonValue } | undefined;
/** The valid document before any mutation (set by run, read by a `retype`). */
let pristine: JsonObject = {};

/** The value at `path` in `doc`, or undefined where the path leads nowhere. */
function valueAt(doc: JsonValue, path: Path): JsonValue | undefined {
  let cur: JsonValue | undefined = doc;
  for (const seg of path) {
    if (
      cur === null ||
      typeof cur !== 'object' ||
      !Object.prototype.hasOwnProperty.call(cur, seg)
    ) {
      return undefined;
    }
    cur = (cur as Record<string | number, JsonValue>)[seg];
  }
  return cur;
}

/** Applies one mutation to `doc` in place; returns the oracle's verdict on it. */
function mutate(doc: JsonObject, op: Op): Verdict {
  const all = slots(doc);
  const slot = 'at' in op && all.length > 0 ? all[op.at % all.length] : undefined;
  const parentPath = slot ? slot.path.slice(0, -1) : [];
  const name = slot ? String(slot.path[slot.path.length - 1]) : '';
  const inArray = slot ? typeof slot.path[slot.path.length - 1] === 'number' : false;
  switch (op.op) {
    case 'drop': {
      if (!slot) return 'either';
      const parent = container(doc, parentPath);
      setIn(doc, slot.path, undefined);
      const p = slot.path.join('/');
      if (typeof parent === 'object' && parent !== null) droppedFrom = parent;
      if (REQUIRED.has(p) || (!inArray && !isMap(parentPath) && REQUIRED_LEAF.has(name))) {
        return 'refuse';
      }
      return 'either';
    }
    case 'retype': {
      if (!slot || typeOf(op.value) === typeOf(slot.value)) return 'either';
      setIn(doc, slot.path, op.value);
      const parent = container(doc, parentPath);
      if (typeof parent === 'object' && parent !== null) {
        retyped = {
          parent,
          key: slot.path[slot.path.length - 1] as string | number,
          value: op.value,
        };
      }
      // A second retype of the same member can give it back its original type (false, then
      // []): that member is then judged by neither verdict.
      const original = valueAt(pristine, slot.path);
      const back = original !== undefined && typeOf(original) === typeOf(op.value);
      return op.value === null || back ? 'either' : 'refuse';
    }
    case 'duplicate': {
      const objects = all.filter((s) => isRecord(s.value) && Object.keys(s.value).length > 0);
      const target =
        objects.length === 0 ? doc : (objects[op.at % objects.length]?.value as JsonObject);
      const first = Object.keys(target)[0];
      if (first === undefined) return 'either';
      const dups = DUPLICATES.get(target) ?? [];
      dups.push([first, target[first]]);
      DUPLICATES.set(target, dups);
      return 'refuse';
    }
    case 'proto': {
      const objects: Slot[] = [{ path: [], value: doc }, ...all.filter((s) => isRecord(s.value))];
      const target = objects[op.at % objects.length] as Slot;
      setIn(doc, [...target.path, op.name], op.value);
      return isMap(target.path) ? 'either' : 'refuse';
    }
    case 'nest': {
      if (!slot) return 'either';
      const [open, close] = op.array ? ['[', ']'] : ['{"v":', '}'];
      const text = open.repeat(op.depth) + writeJson(slot.value) + close.repeat(op.depth);
      setIn(doc, slot.path, new RawText(text) as unknown as JsonValue);
      return 'refuse';
    }
    case 'number': {
      const signed = doc.signed;
      if (!isJsonObject(signed)) return 'either';
      if (op.field === 'version') {
        if (typeof signed.version !== 'number') {
          return 'either';
        }
        setIn(doc, ['signed', 'version'], new RawText(op.text) as unknown as JsonValue);
        return 'refuse';
      }
      const targets = signed.targets;
      const first = isJsonObject(targets) ? Object.keys(targets)[0] : undefined;
      const meta = first === undefined || !isJsonObject(targets) ? undefined : targets[first];
      if (!isJsonObject(meta) || typeof meta.length !== 'number') return 'either';
      setIn(
        doc,
        ['signed', 'targets', first as string, 'length'],
        new RawText(op.text) as unknown as JsonValue,
      );
      // A length is only data: 0, 1E2 (100), -0 and 1e-400 (0) are lengths JSON allows.
      return ['0', '1E2', '-0', '1e-400'].includes(op.text) ? 'either' : 'refuse';
    }
    case 'rename': {
      if (!slot || inArray) return 'either';
      const to = (RENAMES[op.how] as (s: string) => string)(name);
      const parent = container(doc, parentPath) as JsonObject;
      if (Object.prototype.hasOwnProperty.call(parent, to)) return 'either';
      setIn(doc, slot.path, undefined);
      setIn(doc, [...parentPath, to], slot.value);
      return isMap(parentPath) ? 'either' : 'refuse';
    }
    case 'gun':
      if (typeof doc.gun !== 'string') return 'either';
      doc.gun = op.value;
      return 'refuse';
  }
}

/** The Authorization header for plan value `n`, and the verdict on it. */
function authorization(
  n: number,
  endpoint: Endpoint,
  setup: DaemonSetup,
): [string | undefined, Verdict] {
  const owner = endpoint === 'delegation' ? setup.ciToken : setup.adminToken;
  const other = endpoint === 'delegation' ? setup.adminToken : setup.ciToken;
  switch (n) {
    case 0:
      return [`Bearer ${owner}`, 'sign'];
    case 1:
      return [undefined, 'refuse'];
    case 2:
      return [`Bearer ${other}`, 'refuse'];
    case 3:
      return [`Bearer ${owner}x`, 'refuse'];
    case 4:
      return [`bearer ${owner}`, 'either'];
    case 5:
      return [`Basic ${Buffer.from(`admin:${owner}`).toString('base64')}`, 'refuse'];
    case 6:
      return [`Bearer  ${owner}`, 'either'];
    default:
      return [`Bearer ${owner} ${owner}`, 'refuse'];
  }
}

interface Outcome {
  readonly id: string;
  readonly endpoint: Endpoint;
  readonly verdict: Verdict;
  readonly status: number;
  readonly post: boolean;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

describe('notary-hsmd under generated requests', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  let rootCert: TufKey;
  let keys: Map<string, TufKey>;
  const agent = keepAliveAgent(1);
  let seq = 0;
  let rootVersion = 1;
  const outcomes: Outcome[] = [];

  beforeAll(async () => {
    setup = await makeDaemonSetup();
    daemon = await startDaemonProcess(setup.config);
    rootCert = await rootCertificate(daemon.url, setup.adminToken, ROOT_GUN);
    keys = await daemonKeys(daemon.url, setup.adminToken);
  });
  afterAll(async () => {
    agent.destroy();
    await daemon?.stop();
  });

  /** A valid body for `endpoint`; targets and delegations each on a GUN of their own. */
  function valid(endpoint: Endpoint, n: number): JsonObject {
    const gun = `localhost:5000/e2e/fz${n}`;
    switch (endpoint) {
      case 'root':
        return {
          gun: ROOT_GUN,
          signed: rootDoc(++rootVersion, rootCert, keys.get('targets') as TufKey),
        };
      case 'targets':
        return { gun, signed: targetsDoc(1, ['v1', 'latest']) };
      case 'delegation':
        return { gun, role: 'targets/ci', signed: targetsDoc(1, ['v1.0']) };
      case 'certificates':
        return { gun, key: 'root' };
      case 'keys':
        // A token that is not configured: never a key generated on the test's token.
        return { token: 'absent', label: `fz${n}`, role: 'delegation' };
    }
  }

  /** Sends one plan and checks the invariants that hold for a single answer. */
  async function run(plan: Plan): Promise<void> {
    const n = ++seq;
    const id = `fz-${RUN}-${n}`;
    let verdict: Verdict = plan.endpoint === 'keys' ? 'refuse' : 'sign';
    let bytes: Buffer;
    let sentDoc: JsonObject | undefined;
    if (plan.body.kind === 'mutated') {
      const doc = valid(plan.endpoint, n);
      // Edits that remove or replace come first, so that none undoes a later one that
      // the verdict counts on; duplicates last, so that no edit removes the member written twice.
      const ops = [...plan.body.ops].sort((a, b) => ORDER(a) - ORDER(b));
      pristine = structuredClone(doc);
      const verdicts: [Verdict, object | undefined, typeof retyped][] = [];
      for (const op of ops) {
        droppedFrom = undefined;
        retyped = undefined;
        verdicts.push([mutate(doc, op), droppedFrom, retyped]);
      }
      // A required member's drop counts only while its object is still in the document (a
      // later drop of the whole object, say a target entry, makes the request valid again);
      // a retype counts only while its value is still there (a later retype replaces it).
      const live = new Set<unknown>([doc, ...slots(doc).map((x) => x.value)]);
      for (const [v, from, put] of verdicts) {
        const undone =
          (from !== undefined && !live.has(from)) ||
          (put !== undefined && Reflect.get(put.parent, put.key) !== put.value);
        verdict = worse(verdict, undone ? 'either' : v);
      }
      sentDoc = doc;
      bytes = Buffer.from(writeJson(doc, plan.style));
    } else if (plan.body.kind === 'scratch') {
      verdict = 'refuse';
      bytes = Buffer.from(writeJson(plan.body.value, plan.style));
    } else {
      verdict = 'refuse';
      bytes = Buffer.from(plan.body.bytes);
    }
    if (plan.truncate !== null && bytes.length > 1) {
      bytes = bytes.subarray(0, plan.truncate % (bytes.length - 1));
      verdict = 'refuse';
    }
    if (plan.encoding === 'utf16le') {
      bytes = Buffer.from(bytes.toString('utf8'), 'utf16le');
      verdict = 'refuse';
    } else if (plan.encoding === 'bom') {
      bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
      verdict = worse(verdict, 'either');
    }
    const [auth, authVerdict] = authorization(plan.auth, plan.endpoint, setup);
    const [contentType, ctVerdict] = CONTENT_TYPES[plan.contentType] as [string | null, Verdict];
    const [pathOf, pathVerdict] = PATH_VARIANTS[plan.path] as [(p: string) => string, Verdict];
    const [host, hostVerdict] = HOSTS[plan.host] as [string | undefined, Verdict];
    verdict = worse(verdict, worse(authVerdict, worse(ctVerdict, worse(pathVerdict, hostVerdict))));
    if (plan.gzip || plan.method !== 'POST') verdict = 'refuse';
    const headers: Record<string, string> = { 'X-Request-Id': id };
    if (auth !== undefined) headers.Authorization = auth;
    if (contentType !== null) headers['Content-Type'] = contentType;
    if (host !== undefined) headers.Host = host;
    if (plan.gzip) headers['Content-Encoding'] = 'gzip';
    const res: ApiResponse = await send(daemon.url, {
      method: plan.method,
      path: pathOf(PATHS[plan.endpoint]),
      headers,
      body: bytes,
      chunked: plan.chunked,
      agent,
    });
    outcomes.push({
      id,
      endpoint: plan.endpoint,
      verdict,
      status: res.status,
      post: plan.method === 'POST',
    });
    const where = `${id} (${verdict}) ${plan.method} ${plan.endpoint} → ${res.status} ${res.text.slice(0, 300)} — sent ${bytes.toString('utf8').slice(0, 800)}`;
    if (res.status >= 500) throw new Error(`5xx for a client's request: ${where}`);
    if (res.status >= 400) {
      const e = errorOf(res);
      if (!KNOWN_CODES.has(e.code)) throw new Error(`unknown code ${e.code}: ${where}`);
      if (verdict === 'sign') throw new Error(`a valid request was refused: ${where}`);
      return;
    }
    if (plan.method !== 'POST') {
      // May list the allowed methods (OPTIONS) or the keys (GET /v1/keys, the body ignored);
      // never signs or makes anything (the audit check below holds it to that too).
      if (res.text.includes('"signatures"')) throw new Error(`${plan.method} signed: ${where}`);
      return;
    }
    if (verdict === 'refuse') throw new Error(`a bad request was accepted: ${where}`);
    if (plan.endpoint === 'keys') throw new Error(`a key was generated: ${where}`);
    if (SIGNING.has(plan.endpoint)) {
      // What was signed is what was sent (as the strict reader reads it), in canonical form.
      const sent = parseJson(bytes.subarray(plan.encoding === 'bom' ? 3 : 0));
      const signed = isJsonObject(sent) ? sent.signed : undefined;
      const key = keys.get(plan.endpoint === 'delegation' ? 'ci' : plan.endpoint) as TufKey;
      const sigs = signaturesOf(res);
      if (signed === undefined || !sigs.every((s) => signatureVerifies(key, signed, s))) {
        throw new Error(`signature not over the document sent: ${where}`);
      }
      void sentDoc;
    }
  }

  it(`${RUNS} generated requests: no 5xx, the error format, nothing bad signed, memory bounded`, async () => {
    const seed = fuzzSeed('fuzz-api', 474388013);
    // Warm up (JIT, heap, token session) before the baseline is taken.
    await fc.assert(fc.asyncProperty(arbPlan, run), { seed: seed ^ 0x5a5a, numRuns: 300 });
    const pid = daemon.child.pid as number;
    const before = rssKiB(pid);
    const started = performance.now();
    await fc.assert(fc.asyncProperty(arbPlan, run), { seed, numRuns: RUNS, endOnFailure: true });
    const seconds = (performance.now() - started) / 1000;
    const after = rssKiB(pid);
    expect((await send(daemon.url, { method: 'GET', path: '/healthz' })).status).toBe(200);

    const records = (await auditRecords(setup.stateDir)).filter((r) =>
      (r.clientRequestId ?? '').startsWith(`fz-${RUN}-`),
    );
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    const answeredSigned = outcomes.filter(
      (o) => o.post && SIGNING.has(o.endpoint) && o.status < 300,
    );
    const signedRecords = records.filter((r) => r.outcome === 'signed');
    const strays = signedRecords.filter((r) => {
      const o = byId.get(r.clientRequestId ?? '');
      return o === undefined || o.verdict === 'refuse' || !o.post || o.status >= 300;
    });
    expect(strays.map((r) => r.clientRequestId)).toEqual([]);
    const signingRecords = signedRecords.filter((r) =>
      SIGNING.has(byId.get(r.clientRequestId ?? '')?.endpoint ?? 'keys'),
    );
    expect(signingRecords.length).toBe(answeredSigned.length);

    const count = (v: Verdict): number => outcomes.filter((o) => o.verdict === v).length;
    const summary = {
      seed,
      runs: outcomes.length,
      sign: count('sign'),
      refuse: count('refuse'),
      either: count('either'),
      signed: answeredSigned.length,
      seconds: Math.round(seconds),
      rssKiB: [before, after],
    };
    process.stderr.write(`fuzz-api: ${JSON.stringify(summary)}\n`);
    // The oracle must see both kinds in number, or the invariants prove little.
    expect(summary.sign).toBeGreaterThan(RUNS * 0.03);
    expect(summary.refuse).toBeGreaterThan(RUNS * 0.5);
    // Memory: requests go one at a time and bodies are small (the largest generated is a
    // 20,000-level nesting, ~200 KB), so after warm-up the heap should hold steady; 64 MiB
    // leaves room for V8 growing its old space lazily but not for a per-request leak of even
    // 7 KB × 10,000 requests on top of normal churn.
    expect(after - before).toBeLessThan(64 * 1024);
    // 25–40 s on 2 quiet cores; a machine busy with other work can take twice that or more
  }, 240_000);
});
