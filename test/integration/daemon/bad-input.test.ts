/**
 * notary-hsmd against generated bad requests, over plain HTTP to the real daemon on a
 * SoftHSM2 token: wrong JSON types at every body field and inside `signed`, unknown
 * members, `__proto__` / `constructor` / `prototype` at several depths, 10,000-level
 * nesting, 500 KB strings, bodies over the 1 MiB limit (declared and chunked), non-JSON
 * media types, invalid UTF-8, duplicate members, wrong `_type`, role/endpoint mismatches,
 * GUN look-alikes, version rollback, expiry outside the policy, delegation targets outside
 * the CI client's `v*`, missing or invalid bearer tokens and a CI token on admin
 * endpoints.
 *
 * Every case must get a 4xx in the one error format with the caller's request ID, the
 * daemon must keep answering /healthz, and afterwards the audit log must show that none
 * of them was signed and that every refusal from the signing pipeline was recorded with
 * the code the client saw.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'node:net';
import { canonicalJson } from '../../../src/metadata/canonical';
import {
  parseJson,
  setMember,
  isJsonObject,
  type JsonObject,
  type JsonValue,
} from '../../../src/metadata/json';
import type { TufKey } from '../../../src/metadata/keys';
import { GoTime } from '../../../src/metadata/time';
import type { AuditEntry } from '../../../src/signing/types';
import { AUDIT_LOG_FILE, verifyAuditLog } from '../../../src/store';
import {
  auditRecords,
  call,
  daemonKeys,
  ERROR_CODE,
  errorOf,
  pool,
  rootCertificate,
  rootDoc,
  send,
  signaturesOf,
  signatureVerifies,
  targetsDoc,
  type ApiResponse,
} from '../../helpers/daemon-api';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { keepAliveAgent } from '../../helpers/raw-http';

const GUN = 'localhost:5000/e2e/app';
const LIMIT = 1024 * 1024;
const HUGE = 500 * 1024;
const RUN = randomBytes(4).toString('hex');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Who = 'admin' | 'ci';
type Endpoint = 'root' | 'targets' | 'delegation' | 'certificates' | 'keys';
type Path = string | number;

const PATHS: Readonly<Record<Endpoint, string>> = {
  root: '/v1/sign/root',
  targets: '/v1/sign/targets',
  delegation: '/v1/sign/delegation',
  certificates: '/v1/certificates/root',
  keys: '/v1/keys',
};

/** Who may call each endpoint with a valid body (the other client is refused). */
const OWNER: Readonly<Record<Endpoint, Who>> = {
  root: 'admin',
  targets: 'admin',
  delegation: 'ci',
  certificates: 'admin',
  keys: 'admin',
};

/** The status each code must come with (design.md's table). */
const STATUS: Readonly<Record<string, number>> = {
  BAD_REQUEST: 400,
  BAD_JSON: 400,
  UNKNOWN_FIELD: 400,
  FIELD_TYPE: 400,
  FIELD_VALUE: 400,
  FIELD_MISSING: 400,
  FIELD_UNKNOWN: 400,
  BASE64_INVALID: 400,
  EXPIRES_INVALID: 400,
  KEY_ID_MISMATCH: 400,
  CANONICAL_UNREPRESENTABLE: 400,
  GUN_INVALID: 400,
  WRONG_TYPE: 400,
  EXPIRY_OUT_OF_POLICY: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  TARGET_OUTSIDE_PATHS: 403,
  KEY_NOT_FOUND: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  VERSION_ROLLBACK: 409,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  HOST_NOT_ALLOWED: 421,
};

/** Codes of refusals made before the signing pipeline runs (HTTP layer, authentication). */
const BEFORE_PIPELINE: ReadonlySet<string> = new Set([
  'BAD_REQUEST',
  'BAD_JSON',
  'UNKNOWN_FIELD',
  'BODY_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNAUTHENTICATED',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'HOST_NOT_ALLOWED',
]);

interface Case {
  readonly name: string;
  readonly endpoint: Endpoint;
  readonly method?: string;
  readonly path?: string;
  /** Whose bearer token is sent (default: the endpoint's owner). */
  readonly who?: Who;
  /** A raw Authorization header instead (null: none at all). */
  readonly authorization?: string | null;
  /** Default application/json when there is a body; null: no Content-Type. */
  readonly contentType?: string | null;
  readonly headers?: Readonly<Record<string, string>>;
  readonly json?: JsonValue;
  readonly raw?: Buffer | string;
  readonly chunked?: boolean;
  readonly earlyAnswerMs?: number;
  readonly pauseAfterBytes?: number;
  /** The code the daemon must answer with. */
  readonly code: string;
}

interface Outcome {
  readonly c: Case;
  readonly id: string;
  readonly res: ApiResponse;
  readonly code: string;
}

function clone<T extends JsonValue>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** A copy of `doc` with the member at `path` replaced (undefined: removed). */
function setAt(doc: JsonObject, path: readonly Path[], value: JsonValue | undefined): JsonObject {
  const out = clone(doc);
  let cur: JsonValue = out;
  for (const seg of path.slice(0, -1)) {
    const next: JsonValue | undefined = Array.isArray(cur)
      ? cur[Number(seg)]
      : isJsonObject(cur) && Object.prototype.hasOwnProperty.call(cur, seg)
        ? cur[String(seg)]
        : undefined;
    if (next === undefined) throw new Error(`no member ${path.join('/')}`);
    cur = next;
  }
  const last = path[path.length - 1];
  if (last === undefined) throw new Error('empty path');
  if (Array.isArray(cur)) {
    if (value === undefined) cur.splice(Number(last), 1);
    else cur[Number(last)] = value;
  } else if (isJsonObject(cur)) {
    if (value === undefined) {
      if (!Object.prototype.hasOwnProperty.call(cur, last)) throw new Error(`no ${String(last)}`);
      Reflect.deleteProperty(cur, String(last));
    } else {
      setMember(cur, String(last), value);
    }
  } else {
    throw new Error(`${path.join('/')} is inside a scalar`);
  }
  return out;
}

/** `text` with `from` replaced by `to`; `from` must occur. */
function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`edit: ${from.slice(0, 40)} not found`);
  return text.replace(from, to);
}

function nested(levels: number, open: string, close: string, inner = '1'): string {
  return open.repeat(levels) + inner + close.repeat(levels);
}

describe('notary-hsmd refuses bad input', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  const agent = keepAliveAgent(8);
  let rootCert: TufKey;
  let keys: Map<string, TufKey>;
  let version = 100;
  const fresh = (): number => ++version;
  const outcomes: Outcome[] = [];
  const goodIds = new Set<string>();

  const token = (who: Who): string => (who === 'admin' ? setup.adminToken : setup.ciToken);
  const targetsKey = (): TufKey => keys.get('targets') as TufKey;
  const ciKey = (): TufKey => keys.get('ci') as TufKey;

  beforeAll(async () => {
    setup = await makeDaemonSetup();
    daemon = await startDaemonProcess(setup.config);
    rootCert = await rootCertificate(daemon.url, setup.adminToken, GUN, 'root', `good-cert-${RUN}`);
    goodIds.add(`good-cert-${RUN}`);
    keys = await daemonKeys(daemon.url, setup.adminToken);
    // Version 1 of targets, targets/ci and root is signed, so that version 1 again is a rollback.
    const good: [Endpoint, JsonObject][] = [
      ['targets', { gun: GUN, signed: targetsDoc(1) }],
      ['delegation', { gun: GUN, role: 'targets/ci', signed: targetsDoc(1) }],
      ['root', { gun: GUN, signed: rootDoc(1, rootCert, targetsKey()) }],
    ];
    for (const [endpoint, json] of good) {
      const id = `good-${endpoint}-${RUN}`;
      goodIds.add(id);
      const res = await call(daemon.url, {
        path: PATHS[endpoint],
        token: token(OWNER[endpoint]),
        json,
        requestId: id,
      });
      expect(signaturesOf(res)).toHaveLength(1);
    }
  });

  afterAll(async () => {
    agent.destroy();
    await daemon?.stop();
  });

  /** A valid body for the endpoint (fresh version), which its owner could send successfully. */
  function valid(endpoint: Endpoint): JsonObject {
    switch (endpoint) {
      case 'root':
        return { gun: GUN, signed: rootDoc(fresh(), rootCert, targetsKey()) };
      case 'targets':
        return { gun: GUN, signed: targetsDoc(fresh()) };
      case 'delegation':
        return { gun: GUN, role: 'targets/ci', signed: targetsDoc(fresh(), ['v1.0']) };
      case 'certificates':
        return { gun: GUN, key: 'root' };
      case 'keys':
        // Never sent as is by its owner: that would generate a key.
        return { token: 'soft', label: 'never-made', role: 'delegation' };
    }
  }

  const ENDPOINTS: readonly Endpoint[] = ['root', 'targets', 'delegation', 'certificates', 'keys'];

  function cases(): Case[] {
    const out: Case[] = [];
    const add = (c: Case): void => void out.push(c);
    const signedOf = (e: Endpoint): JsonObject => valid(e).signed as JsonObject;
    const inSigned = (
      e: Endpoint,
      name: string,
      path: readonly Path[],
      value: JsonValue | undefined,
      code: string,
    ): void => add({ name, endpoint: e, json: setAt(valid(e), ['signed', ...path], value), code });

    // --- Missing and invalid bearer tokens (refused before anything else) -----------------
    const badAuth: [string, string | null][] = [
      ['no Authorization header', null],
      ['a bare "Bearer"', 'Bearer'],
      ['an unknown token', `Bearer nhsm_${randomBytes(32).toString('base64url')}`],
      ['Basic credentials', `Basic ${Buffer.from('admin:admin').toString('base64')}`],
      ['the admin token with a character more', `Bearer ${setup.adminToken}x`],
      ['the admin token with a character less', `Bearer ${setup.adminToken.slice(0, -1)}`],
      ['the CI token and a second word', `Bearer ${setup.ciToken} extra`],
      ['another scheme', `Token ${setup.adminToken}`],
      ['a 5000-character token', `Bearer ${'a'.repeat(5000)}`],
      ['the admin token in quotes', `Bearer "${setup.adminToken}"`],
    ];
    for (const e of ENDPOINTS) {
      for (const [what, header] of badAuth) {
        add({
          name: `${e}: ${what}`,
          endpoint: e,
          authorization: header,
          json: valid(e),
          code: 'UNAUTHENTICATED',
        });
      }
    }

    // --- The wrong client: CI on admin endpoints, admin on the delegation endpoint --------
    for (const e of ['root', 'targets', 'certificates', 'keys'] as const) {
      add({
        name: `${e}: the CI token`,
        endpoint: e,
        who: 'ci',
        json: valid(e),
        code: 'FORBIDDEN',
      });
    }
    add({
      name: 'delegation: the admin token',
      endpoint: 'delegation',
      who: 'admin',
      json: valid('delegation'),
      code: 'FORBIDDEN',
    });

    // --- Wrong JSON types at every body field -----------------------------------------------
    const WRONG: Readonly<Record<'string' | 'object' | 'array', JsonValue[]>> = {
      string: [null, true, 7, [], {}, ''],
      object: [null, true, 7, 's', []],
      array: [null, true, 7, 's', {}, [], [7], ['']],
    };
    const FIELDS: Readonly<Record<Endpoint, [string, keyof typeof WRONG, JsonValue[]][]>> = {
      root: [
        ['gun', 'string', []],
        ['signed', 'object', []],
        ['keys', 'array', []],
        ['pin', 'string', []],
      ],
      targets: [
        ['gun', 'string', []],
        ['signed', 'object', []],
        ['keys', 'array', []],
      ],
      delegation: [
        ['gun', 'string', []],
        ['role', 'string', []],
        ['signed', 'object', []],
        ['keys', 'array', []],
      ],
      certificates: [
        ['gun', 'string', []],
        ['key', 'string', []],
        ['pin', 'string', []],
      ],
      keys: [
        ['token', 'string', []],
        ['label', 'string', []],
        ['id', 'string', ['0', 'AB', 'zz', '0x01', '01'.repeat(65)]],
        ['role', 'string', ['admin', 'Root', 'snapshot']],
      ],
    };
    for (const e of ENDPOINTS) {
      for (const [field, type, extra] of FIELDS[e]) {
        for (const value of [...WRONG[type], ...extra]) {
          add({
            name: `${e}: ${field} = ${JSON.stringify(value).slice(0, 30)}`,
            endpoint: e,
            json: setAt(valid(e), [field], value),
            code: 'BAD_REQUEST',
          });
        }
      }
    }

    // --- Wrong JSON types inside `signed` -------------------------------------------------
    const signedTypes: [Endpoint, Path[], JsonValue[]][] = [
      ['targets', ['_type'], [7, null, true, [], {}]],
      ['targets', ['expires'], [7, null, true, [], {}]],
      ['targets', ['version'], ['5', null, true, [], {}]],
      ['targets', ['targets'], [7, null, 's', []]],
      ['targets', ['delegations'], [7, null, 's', []]],
      ['targets', ['delegations', 'keys'], [7, [], 's']],
      ['targets', ['delegations', 'roles'], [7, {}, 's']],
      ['targets', ['targets', 'v1'], [7, 's', [], null]],
      ['targets', ['targets', 'v1', 'length'], ['1', null, []]],
      ['targets', ['targets', 'v1', 'hashes'], [7, 's', []]],
      ['targets', ['targets', 'v1', 'hashes', 'sha256'], [7, null, []]],
      ['delegation', ['_type'], [7]],
      ['delegation', ['version'], ['5']],
      ['delegation', ['targets'], [[]]],
      ['delegation', ['targets', 'v1.0', 'length'], ['1']],
      ['delegation', ['targets', 'v1.0', 'hashes', 'sha256'], [7]],
      ['root', ['_type'], [7]],
      ['root', ['consistent_snapshot'], ['false', 0, null]],
      ['root', ['keys'], [[], 7]],
      ['root', ['roles'], [[], 7]],
      ['root', ['roles', 'root', 'threshold'], ['1']],
      ['root', ['roles', 'root', 'keyids'], ['x', {}]],
    ];
    for (const [e, path, values] of signedTypes) {
      for (const v of values) {
        inSigned(e, `${e}: signed/${path.join('/')} = ${JSON.stringify(v)}`, path, v, 'FIELD_TYPE');
      }
    }
    const rootId = (): string => rootCert.id;
    inSigned('root', 'root: key type not a string', ['keys', rootId(), 'keytype'], 7, 'FIELD_TYPE');
    inSigned(
      'root',
      'root: key public not a string',
      ['keys', rootId(), 'keyval', 'public'],
      7,
      'FIELD_TYPE',
    );

    // --- Values out of range, malformed or missing inside `signed` --------------------------
    for (const v of [0, -1, 9007199254740992]) {
      inSigned('targets', `targets: version ${v}`, ['version'], v, 'FIELD_VALUE');
    }
    inSigned('targets', 'targets: negative length', ['targets', 'v1', 'length'], -1, 'FIELD_VALUE');
    inSigned(
      'targets',
      'targets: a 3-byte sha256',
      ['targets', 'v1', 'hashes', 'sha256'],
      'AAAA',
      'FIELD_VALUE',
    );
    inSigned(
      'targets',
      'targets: sha256 not base64',
      ['targets', 'v1', 'hashes', 'sha256'],
      'not base64!',
      'BASE64_INVALID',
    );
    inSigned(
      'targets',
      'targets: sha256 unpadded',
      ['targets', 'v1', 'hashes', 'sha256'],
      'YQ',
      'BASE64_INVALID',
    );
    inSigned('targets', 'targets: null custom', ['targets', 'v1', 'custom'], null, 'FIELD_VALUE');
    inSigned('targets', 'targets: no version', ['version'], undefined, 'FIELD_MISSING');
    inSigned('targets', 'targets: no expires', ['expires'], undefined, 'FIELD_MISSING');
    inSigned('targets', 'targets: no delegations', ['delegations'], undefined, 'FIELD_MISSING');
    inSigned('delegation', 'delegation: no targets', ['targets'], undefined, 'FIELD_MISSING');
    inSigned(
      'targets',
      'targets: a control character in a target name',
      ['targets', 'v\u0001'],
      {
        hashes: { sha256: 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=' },
        length: 1,
      },
      'CANONICAL_UNREPRESENTABLE',
    );
    {
      const expires = GoTime.daysFromNow(30).toString();
      inSigned(
        'targets',
        'targets: expires with a zero fraction (not canonical)',
        ['expires'],
        expires.replace('Z', '.000Z'),
        'FIELD_VALUE',
      );
      inSigned(
        'targets',
        'targets: expires with +00:00 (not canonical)',
        ['expires'],
        expires.replace('Z', '+00:00'),
        'FIELD_VALUE',
      );
    }
    inSigned('root', 'root: threshold 0', ['roles', 'root', 'threshold'], 0, 'FIELD_VALUE');
    inSigned(
      'root',
      'root: key ID not hex',
      ['roles', 'root', 'keyids'],
      ['nothex'],
      'FIELD_VALUE',
    );
    inSigned(
      'root',
      'root: unlisted key ID',
      ['roles', 'root', 'keyids'],
      ['ab'.repeat(32)],
      'FIELD_VALUE',
    );
    inSigned(
      'root',
      'root: a key ID twice',
      ['roles', 'root', 'keyids'],
      [rootId(), rootId()],
      'FIELD_VALUE',
    );
    inSigned(
      'root',
      'root: a private key',
      ['keys', rootId(), 'keyval', 'private'],
      'x',
      'FIELD_VALUE',
    );
    inSigned('root', 'root: no snapshot role', ['roles', 'snapshot'], undefined, 'FIELD_MISSING');
    {
      const s = signedOf('root');
      const keysMember = s.keys as JsonObject;
      const moved = setAt(s, ['keys', 'cd'.repeat(32)], keysMember[rootId()]);
      add({
        name: 'root: a key filed under another ID',
        endpoint: 'root',
        json: { gun: GUN, signed: setAt(moved, ['keys', rootId()], undefined) },
        code: 'KEY_ID_MISMATCH',
      });
      add({
        name: 'root: a key listed under a wrong ID',
        endpoint: 'root',
        json: {
          gun: GUN,
          signed: setAt(s, ['keys', 'ef'.repeat(32)], keysMember[rootId()]),
        },
        code: 'KEY_ID_MISMATCH',
      });
    }
    add({
      name: 'root: the root role held by a key without a certificate',
      endpoint: 'root',
      json: { gun: GUN, signed: rootDoc(fresh(), targetsKey(), targetsKey()) },
      code: 'KEY_NOT_FOUND',
    });

    // --- Unknown members ------------------------------------------------------------------
    const unknownTop: Readonly<Record<Endpoint, string[]>> = {
      root: ['extra', 'signatures', 'role', 'Gun'],
      targets: ['extra', 'pin', 'role', 'signatures'],
      delegation: ['extra', 'pin', 'signatures', 'roles'],
      certificates: ['extra', 'keys', 'signed', 'role'],
      keys: ['extra', 'pin', 'gun', 'keyid'],
    };
    for (const e of ENDPOINTS) {
      for (const f of unknownTop[e]) {
        add({
          name: `${e}: unknown member ${f}`,
          endpoint: e,
          json: setAt(valid(e), [f], 'x'),
          code: 'UNKNOWN_FIELD',
        });
      }
    }
    const unknownSigned: [Endpoint, Path[]][] = [
      ['targets', ['extra']],
      ['targets', ['signatures']],
      ['targets', ['_Type']],
      ['targets', ['Version']],
      ['targets', ['delegations', 'extra']],
      ['targets', ['targets', 'v1', 'extra']],
      ['targets', ['targets', 'v1', 'sha256']],
      ['delegation', ['extra']],
      ['delegation', ['targets', 'v1.0', 'extra']],
      ['root', ['extra']],
      ['root', ['roles', 'releases']],
      ['root', ['roles', 'root', 'extra']],
      ['root', ['keys', '@ROOT', 'extra']],
      ['root', ['keys', '@ROOT', 'keyval', 'extra']],
    ];
    for (const [e, path] of unknownSigned) {
      const p = path.map((s) => (s === '@ROOT' ? rootId() : s));
      inSigned(e, `${e}: unknown member signed/${path.join('/')}`, p, 'x', 'FIELD_UNKNOWN');
    }

    // --- __proto__, constructor and prototype at several depths -----------------------------
    const polluter: JsonObject = { isAdmin: true, paths: ['**'], polluted: 1 };
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      for (const e of ENDPOINTS) {
        add({
          name: `${e}: body member ${name}`,
          endpoint: e,
          json: setAt(valid(e), [name], polluter),
          code: 'UNKNOWN_FIELD',
        });
      }
      const deep: [Endpoint, Path[], string][] = [
        ['targets', [name], 'FIELD_UNKNOWN'],
        ['targets', ['delegations', name], 'FIELD_UNKNOWN'],
        ['targets', ['targets', 'v1', name], 'FIELD_UNKNOWN'],
        ['targets', ['delegations', 'keys', name], 'FIELD_MISSING'],
        ['delegation', [name], 'FIELD_UNKNOWN'],
        ['delegation', ['targets', 'v1.0', 'hashes', name], 'FIELD_TYPE'],
        ['root', [name], 'FIELD_UNKNOWN'],
        ['root', ['roles', name], 'FIELD_UNKNOWN'],
        ['root', ['keys', '@ROOT', 'keyval', name], 'FIELD_UNKNOWN'],
      ];
      for (const [e, path, code] of deep) {
        const p = path.map((s) => (s === '@ROOT' ? rootId() : s));
        inSigned(e, `${e}: signed/${path.join('/')}`, p, polluter, code);
      }
      add({
        name: `delegation: a target named ${name} (outside v*)`,
        endpoint: 'delegation',
        json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(fresh(), [name]) },
        code: 'TARGET_OUTSIDE_PATHS',
      });
    }

    // --- Deep nesting -----------------------------------------------------------------------
    const body = (e: Endpoint): string => JSON.stringify(valid(e));
    add({
      name: 'targets: 10,000 nested arrays in a target custom value',
      endpoint: 'targets',
      raw: edit(body('targets'), '"length":', `"custom":${nested(10_000, '[', ']')},"length":`),
      code: 'BAD_JSON',
    });
    add({
      name: 'targets: 70 nested arrays in a target custom value',
      endpoint: 'targets',
      raw: edit(body('targets'), '"length":', `"custom":${nested(70, '[', ']')},"length":`),
      code: 'BAD_JSON',
    });
    add({
      name: 'delegation: 10,000 nested objects as the body',
      endpoint: 'delegation',
      raw: nested(10_000, '{"a":', '}'),
      code: 'BAD_JSON',
    });
    add({
      name: 'targets: 10,000 nested arrays as the body',
      endpoint: 'targets',
      raw: nested(10_000, '[', ']'),
      code: 'BAD_JSON',
    });
    add({
      name: 'root: 10,000 unclosed arrays',
      endpoint: 'root',
      raw: '['.repeat(10_000),
      code: 'BAD_JSON',
    });
    add({
      name: 'root: 10,000 nested objects in signed/keys',
      endpoint: 'root',
      raw: edit(body('root'), '"keys":{', `"keys":{"x":${nested(10_000, '{"a":', '}')},`),
      code: 'BAD_JSON',
    });
    add({
      name: 'certificates: 10,000 nested arrays as the GUN',
      endpoint: 'certificates',
      raw: `{"gun":${nested(10_000, '[', ']')},"key":"root"}`,
      code: 'BAD_JSON',
    });
    add({
      name: 'keys: 10,000 nested objects as the label',
      endpoint: 'keys',
      raw: `{"token":"soft","label":${nested(10_000, '{"a":', '}')},"role":"delegation"}`,
      code: 'BAD_JSON',
    });

    // --- Huge strings (500 KB) ------------------------------------------------------------
    const big = (ch = 'x'): string => ch.repeat(HUGE);
    add({
      name: 'targets: 500 KB GUN',
      endpoint: 'targets',
      json: setAt(valid('targets'), ['gun'], `localhost:5000/e2e/${big('a')}`),
      code: 'BAD_REQUEST',
    });
    add({
      name: 'delegation: 500 KB role',
      endpoint: 'delegation',
      json: setAt(valid('delegation'), ['role'], `targets/${big('c')}`),
      code: 'BAD_REQUEST',
    });
    add({
      name: 'delegation: 500 KB key name',
      endpoint: 'delegation',
      json: setAt(valid('delegation'), ['keys'], [big()]),
      code: 'BAD_REQUEST',
    });
    add({
      name: 'root: 500 KB PIN',
      endpoint: 'root',
      json: setAt(valid('root'), ['pin'], big('1')),
      code: 'BAD_REQUEST',
    });
    add({
      name: 'certificates: 500 KB key name',
      endpoint: 'certificates',
      json: setAt(valid('certificates'), ['key'], big()),
      code: 'BAD_REQUEST',
    });
    add({
      name: 'keys: 500 KB label',
      endpoint: 'keys',
      json: setAt(valid('keys'), ['label'], big()),
      code: 'BAD_REQUEST',
    });
    add({
      name: 'delegation: a 500 KB target name outside v*',
      endpoint: 'delegation',
      json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(fresh(), [big()]) },
      code: 'TARGET_OUTSIDE_PATHS',
    });
    add({
      name: 'delegation: a 500 KB custom value on a target outside v*',
      endpoint: 'delegation',
      json: setAt(
        { gun: GUN, role: 'targets/ci', signed: targetsDoc(fresh(), ['latest']) },
        ['signed', 'targets', 'latest', 'custom'],
        big(),
      ),
      code: 'TARGET_OUTSIDE_PATHS',
    });
    inSigned('targets', 'targets: 500 KB expires', ['expires'], big('9'), 'EXPIRES_INVALID');
    inSigned('targets', 'targets: 500 KB _type', ['_type'], big('T'), 'WRONG_TYPE');
    inSigned('delegation', 'delegation: 500 KB member name', [big('m')], 1, 'FIELD_UNKNOWN');
    inSigned(
      'targets',
      'targets: 500 KB sha256',
      ['targets', 'v1', 'hashes', 'sha256'],
      big('A'),
      'FIELD_VALUE',
    );
    {
      const s = signedOf('root');
      const k = (s.keys as JsonObject)[rootId()] as JsonObject;
      inSigned(
        'root',
        'root: 500 KB key type',
        ['keys', rootId()],
        { ...k, keytype: big('e') },
        'KEY_ID_MISMATCH',
      );
    }

    // --- Bodies over the limit ------------------------------------------------------------
    const padded = (e: Endpoint, bytes: number): string => {
      const b = body(e);
      const pad = bytes - b.length - ',"pad":""'.length;
      return edit(b, '{', `{"pad":"${'p'.repeat(pad)}",`);
    };
    for (const e of ENDPOINTS) {
      add({
        name: `${e}: Content-Length one byte over the limit`,
        endpoint: e,
        raw: padded(e, LIMIT + 1),
        earlyAnswerMs: 5000,
        code: 'BODY_TOO_LARGE',
      });
      add({
        name: `${e}: 2 MiB chunked`,
        endpoint: e,
        raw: padded(e, 2 * LIMIT),
        chunked: true,
        pauseAfterBytes: LIMIT + 64 * 1024,
        code: 'BODY_TOO_LARGE',
      });
    }
    add({
      name: 'targets: chunked, one byte over the limit',
      endpoint: 'targets',
      raw: padded('targets', LIMIT + 1),
      chunked: true,
      pauseAfterBytes: LIMIT + 64 * 1024,
      code: 'BODY_TOO_LARGE',
    });
    add({
      name: 'delegation: 2 MiB Content-Length without a token',
      endpoint: 'delegation',
      authorization: null,
      raw: padded('delegation', 2 * LIMIT),
      earlyAnswerMs: 5000,
      code: 'BODY_TOO_LARGE',
    });
    add({
      name: 'targets: 2 MiB chunked without a token',
      endpoint: 'targets',
      authorization: null,
      raw: padded('targets', 2 * LIMIT),
      chunked: true,
      earlyAnswerMs: 5000,
      code: 'UNAUTHENTICATED',
    });
    add({
      name: 'root: 2 MiB as text/plain',
      endpoint: 'root',
      contentType: 'text/plain',
      raw: padded('root', 2 * LIMIT),
      earlyAnswerMs: 5000,
      code: 'BODY_TOO_LARGE',
    });

    // --- Media types and encodings --------------------------------------------------------
    const mediaTypes: [Endpoint, string | null, Record<string, string>?][] = [
      ['targets', 'text/plain'],
      ['targets', 'application/x-www-form-urlencoded'],
      ['targets', null],
      ['targets', 'application/json; charset=latin1'],
      ['targets', 'application/json; charset=utf-16'],
      ['targets', 'application/json', { 'Content-Encoding': 'gzip' }],
      ['delegation', 'multipart/form-data; boundary=x'],
      ['delegation', 'application/jsonx'],
      ['delegation', 'application/vnd.api+json'],
      ['delegation', 'text/json'],
      ['delegation', null],
      ['root', 'application/xml'],
      ['root', 'application/json, text/plain'],
      ['root', 'application/json; charset=utf-8; q=1'],
      ['certificates', 'text/plain'],
      ['certificates', 'application/octet-stream'],
      ['keys', 'application/x-www-form-urlencoded'],
      ['keys', 'application/json', { 'Content-Encoding': 'br' }],
    ];
    for (const [e, type, headers] of mediaTypes) {
      add({
        name: `${e}: Content-Type ${String(type)} ${headers ? JSON.stringify(headers) : ''}`,
        endpoint: e,
        contentType: type,
        ...(headers ? { headers } : {}),
        raw: body(e),
        code: 'UNSUPPORTED_MEDIA_TYPE',
      });
    }

    // --- Invalid UTF-8 and strings JSON cannot carry --------------------------------------
    const bytes = (e: Endpoint, from: string, insert: number[]): Buffer => {
      const text = body(e);
      const at = text.indexOf(from);
      if (at < 0) throw new Error(`${from} not in the body`);
      const b = Buffer.from(text, 'utf8');
      const cut = Buffer.byteLength(text.slice(0, at + from.length));
      return Buffer.concat([b.subarray(0, cut), Buffer.from(insert), b.subarray(cut)]);
    };
    const utf8Cases: [Endpoint, string, string, number[]][] = [
      ['targets', 'a 0xff byte in the GUN', '"gun":"localhost', [0xff]],
      ['delegation', 'an overlong "/" in the role', '"role":"targets', [0xc0, 0xaf]],
      ['root', 'an encoded surrogate in the GUN', '"gun":"localhost', [0xed, 0xa0, 0x80]],
      ['certificates', 'a truncated sequence in the key', '"key":"root', [0xe2, 0x82]],
      ['keys', 'a 0xfe byte in the label', '"label":"never', [0xfe]],
      ['targets', 'a lone continuation byte in expires', '"expires":"', [0x80]],
      ['delegation', 'a raw NUL in a target name', '"v1.0', [0x00]],
      ['delegation', 'a raw newline in the role', '"role":"targets/', [0x0a]],
    ];
    for (const [e, what, from, insert] of utf8Cases) {
      add({ name: `${e}: ${what}`, endpoint: e, raw: bytes(e, from, insert), code: 'BAD_JSON' });
    }
    add({
      name: 'targets: the body in UTF-16LE',
      endpoint: 'targets',
      raw: Buffer.from(body('targets'), 'utf16le'),
      code: 'BAD_JSON',
    });
    add({
      name: 'targets: a byte-order mark',
      endpoint: 'targets',
      raw: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body('targets'))]),
      code: 'BAD_JSON',
    });
    add({
      name: 'targets: a lone surrogate escape in the GUN',
      endpoint: 'targets',
      raw: edit(body('targets'), '"gun":"localhost', '"gun":"\\ud800localhost'),
      code: 'BAD_JSON',
    });
    add({
      name: 'delegation: a lone low surrogate escape in a target name',
      endpoint: 'delegation',
      raw: edit(body('delegation'), '"v1.0"', '"v1.0\\udc00"'),
      code: 'BAD_JSON',
    });

    // --- Duplicate members ----------------------------------------------------------------
    const dup: [Endpoint, string, string, string][] = [
      ['targets', 'gun twice', '{"gun":', `{"gun":"${GUN}","gun":`],
      ['targets', 'gun and its escaped spelling', '{"gun":', `{"\\u0067un":"${GUN}","gun":`],
      ['targets', 'signed/version twice', '"version":', '"version":1,"version":'],
      ['delegation', 'a target twice', '"v1.0":', '"v1.0":{},"v1.0":'],
      ['delegation', 'role twice', '"role":', '"role":"targets/x","role":'],
      ['delegation', 'signed twice', '"signed":', '"signed":{},"signed":'],
      ['root', 'a key ID twice in signed/keys', '"keys":{', '"keys":{"@ID":{},'],
      ['certificates', 'key twice', '"key":', '"key":"targets","key":'],
      ['keys', 'label twice', '"label":', '"label":"a","label":'],
    ];
    for (const [e, what, from, to] of dup) {
      add({
        name: `${e}: ${what}`,
        endpoint: e,
        raw: edit(body(e), from, to.replace('@ID', rootId())),
        code: 'BAD_JSON',
      });
    }

    // --- Bodies that are not one JSON object ----------------------------------------------
    for (const text of ['null', '[]', '"x"', '7', 'true', '{}']) {
      add({ name: `targets: body ${text}`, endpoint: 'targets', raw: text, code: 'BAD_REQUEST' });
    }
    add({ name: 'delegation: body {}', endpoint: 'delegation', raw: '{}', code: 'BAD_REQUEST' });
    add({ name: 'keys: body []', endpoint: 'keys', raw: '[]', code: 'BAD_REQUEST' });
    const malformed: [Endpoint, string, string][] = [
      ['root', 'an empty body', ''],
      ['root', 'only whitespace', '   \n'],
      ['root', 'a truncated object', '{"gun":'],
      ['root', 'data after the object', `${body('root')}x`],
      ['root', 'single quotes', "{'gun':'x'}"],
      ['root', 'a trailing comma', `{"gun":"${GUN}",}`],
      ['root', 'NaN', '{"gun":NaN}'],
      ['certificates', 'a comment', `{"gun":"${GUN}",/* c */"key":"root"}`],
      ['targets', 'version 1.0', edit(body('targets'), '"version":', '"version":1.0,"x":')],
      ['targets', 'version 1e0', edit(body('targets'), '"version":', '"version":1e0,"x":')],
      [
        'delegation',
        'version 1e400',
        edit(body('delegation'), '"version":', '"version":1e400,"x":'),
      ],
      [
        'delegation',
        'a hexadecimal length',
        edit(body('delegation'), '"length":', '"length":0x10,"x":'),
      ],
    ];
    for (const [e, what, text] of malformed) {
      add({ name: `${e}: ${what}`, endpoint: e, raw: text, code: 'BAD_JSON' });
    }

    // --- Wrong _type ----------------------------------------------------------------------
    for (const t of ['Root', 'Snapshot', 'Timestamp', 'targets', '']) {
      inSigned('targets', `targets: _type ${JSON.stringify(t)}`, ['_type'], t, 'WRONG_TYPE');
    }
    for (const t of ['Root', 'Targets ']) {
      inSigned('delegation', `delegation: _type ${JSON.stringify(t)}`, ['_type'], t, 'WRONG_TYPE');
    }
    for (const t of ['Targets', 'root']) {
      inSigned('root', `root: _type ${JSON.stringify(t)}`, ['_type'], t, 'WRONG_TYPE');
    }
    add({
      name: 'targets: a whole Root document',
      endpoint: 'targets',
      json: { gun: GUN, signed: signedOf('root') },
      code: 'WRONG_TYPE',
    });
    add({
      name: 'root: a whole Targets document',
      endpoint: 'root',
      json: { gun: GUN, signed: signedOf('targets') },
      code: 'WRONG_TYPE',
    });
    add({
      name: 'delegation: a whole Root document',
      endpoint: 'delegation',
      json: { gun: GUN, role: 'targets/ci', signed: signedOf('root') },
      code: 'WRONG_TYPE',
    });

    // --- Roles that do not fit the endpoint or the client ----------------------------------
    for (const role of [
      'targets',
      'root',
      'snapshot',
      'timestamp',
      'targets/',
      'targets/ci/',
      'targets//ci',
      'targets/ci/../ci',
      'Targets/ci',
      'targets/CI',
      'targets/releases',
      'targets/ci/sub',
      'targets/c',
      'targets/ci ',
    ]) {
      add({
        name: `delegation: role ${JSON.stringify(role)}`,
        endpoint: 'delegation',
        json: setAt(valid('delegation'), ['role'], role),
        code: 'FORBIDDEN',
      });
    }
    add({
      name: 'delegation: the admin token for role targets',
      endpoint: 'delegation',
      who: 'admin',
      json: setAt(valid('delegation'), ['role'], 'targets'),
      code: 'FORBIDDEN',
    });

    // --- GUNs: malformed, look-alikes, near misses ----------------------------------------
    const invalidGuns = [
      'localhost:5000/e2e/../app',
      'localhost:5000/e2e/./app',
      'localhost:5000/e2e//app',
      'localhost:5000/E2E/app',
      'Localhost:5000/e2e/app',
      'localhost:5000/\u04352\u0435/app',
      'localhost:5000/\uff452e/app',
      'localhost:5000/e2e/\u0430pp',
      'localhost:5000/e2e/app/',
      '/localhost:5000/e2e/app',
      'localhost:5000/e2e/app ',
      'localhost:5000/e2e/app\u0000',
      'localhost:5000/e2e/app\n',
      'localhost:5000/e2e/app\u200b',
      'localhost:0/e2e/app',
      'localhost:65536/e2e/app',
      'localhost:05000/e2e/app',
      'localhost:5000',
      'localhost:5000/e2e/-app',
      '*',
      'localhost:5000/e2e/*',
      'localhost:5000/e2e/app%2f..',
      'localhost:5000/e2e/..',
    ];
    const foreignGuns = [
      'localhost:5000/e2e',
      'localhost:5000/e2e-evil/app',
      'localhost:5000/e2ex/app',
      'localhost:5001/e2e/app',
      'localhost/e2e/app',
      'example.com/e2e/app',
    ];
    const gunEndpoints: readonly Endpoint[] = ['targets', 'delegation', 'root', 'certificates'];
    const guns: [string, string][] = [
      ...invalidGuns.map((g): [string, string] => [g, 'GUN_INVALID']),
      ...foreignGuns.map((g): [string, string] => [g, 'FORBIDDEN']),
    ];
    guns.forEach(([g, code], i) => {
      for (const e of [gunEndpoints[i % 4], gunEndpoints[(i + 1) % 4]] as Endpoint[]) {
        add({
          name: `${e}: GUN ${JSON.stringify(g)}`,
          endpoint: e,
          json: setAt(valid(e), ['gun'], g),
          code,
        });
      }
    });

    // --- Rollback (version 1 was signed in beforeAll) -------------------------------------
    const v0 = (json: JsonObject): JsonObject => setAt(json, ['signed', 'version'], 0);
    const rollback: [Endpoint, string, JsonObject, string][] = [
      [
        'targets',
        'version 1 again',
        { gun: GUN, signed: targetsDoc(1, ['v2']) },
        'VERSION_ROLLBACK',
      ],
      [
        'delegation',
        'version 1 again',
        { gun: GUN, role: 'targets/ci', signed: targetsDoc(1, ['v2']) },
        'VERSION_ROLLBACK',
      ],
      [
        'root',
        'version 1 again',
        { gun: GUN, signed: rootDoc(1, rootCert, targetsKey(), { days: 300 }) },
        'VERSION_ROLLBACK',
      ],
      // version 0 cannot be built with the models: it is edited in
      [
        'targets',
        'version 0 after version 1',
        v0({ gun: GUN, signed: targetsDoc(1) }),
        'FIELD_VALUE',
      ],
      [
        'delegation',
        'version 0 after version 1',
        v0({ gun: GUN, role: 'targets/ci', signed: targetsDoc(1) }),
        'FIELD_VALUE',
      ],
      [
        'root',
        'version 0 after version 1',
        v0({ gun: GUN, signed: rootDoc(1, rootCert, targetsKey()) }),
        'FIELD_VALUE',
      ],
    ];
    for (const [e, what, json, code] of rollback) {
      add({ name: `${e}: ${what}`, endpoint: e, json, code });
    }

    // --- Expiry outside the policy --------------------------------------------------------
    const now = Date.now();
    const at = (ms: number): GoTime => GoTime.fromDate(new Date(ms));
    const DAY = 86_400_000;
    const expiries: [Endpoint, string, GoTime][] = [
      ['targets', '1096 days', GoTime.daysFromNow(1096)],
      ['targets', '1095 days + skew + 2 minutes', at(now + 1095 * DAY + 420_000)],
      ['targets', '3000 days', GoTime.daysFromNow(3000)],
      ['targets', 'yesterday', GoTime.daysFromNow(-1)],
      ['targets', '10 minutes ago', at(now - 600_000)],
      ['targets', 'year 1', GoTime.parse('0001-01-01T00:00:00Z')],
      ['targets', 'year 9999', GoTime.parse('9999-12-31T23:59:59Z')],
      ['delegation', '1096 days', GoTime.daysFromNow(1096)],
      ['delegation', 'yesterday', GoTime.daysFromNow(-1)],
      ['root', '3651 days', GoTime.daysFromNow(3651)],
      ['root', 'yesterday', GoTime.daysFromNow(-1)],
    ];
    for (const [e, what, expires] of expiries) {
      inSigned(e, `${e}: expires ${what}`, ['expires'], expires.toString(), 'EXPIRY_OUT_OF_POLICY');
    }
    for (const text of [
      '2030-02-30T00:00:00Z',
      '2030-01-01 00:00:00Z',
      '2030-01-01T00:00:00',
      'tomorrow',
      '2030-01-01T24:00:00Z',
      '2030-13-01T00:00:00Z',
      '',
    ]) {
      inSigned(
        'targets',
        `targets: expires ${JSON.stringify(text)}`,
        ['expires'],
        text,
        'EXPIRES_INVALID',
      );
    }

    // --- Delegation targets outside the CI client's patterns (v*) -------------------------
    for (const names of [
      ['latest'],
      ['V1'],
      ['x/v1'],
      ['v1/evil'],
      [' v1'],
      [''],
      ['../v1'],
      ['release-1'],
      ['v1', 'latest'],
    ]) {
      add({
        name: `delegation: targets ${JSON.stringify(names)}`,
        endpoint: 'delegation',
        json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(fresh(), names) },
        code: 'TARGET_OUTSIDE_PATHS',
      });
    }
    {
      const k = ciKey();
      const signed = setAt(targetsDoc(fresh(), ['v1.1']), ['delegations'], {
        keys: { [k.id]: k.toJson() },
        roles: [{ keyids: [k.id], name: 'targets/ci/sub', threshold: 1 }],
      });
      add({
        name: 'delegation: delegating further',
        endpoint: 'delegation',
        json: { gun: GUN, role: 'targets/ci', signed },
        code: 'FORBIDDEN',
      });
    }

    // --- Keys the client may not use ------------------------------------------------------
    const keyCases: [Endpoint, string, JsonValue][] = [
      ['delegation', 'keys', ['root']],
      ['delegation', 'keys', ['nope']],
      ['delegation', 'keys', ['ci', 'targets']],
      ['targets', 'keys', ['ci']],
      ['targets', 'keys', ['root']],
      ['root', 'keys', ['targets']],
      ['certificates', 'key', 'targets'],
      ['certificates', 'key', 'ci'],
      ['certificates', 'key', 'nope'],
    ];
    for (const [e, field, value] of keyCases) {
      add({
        name: `${e}: ${field} ${JSON.stringify(value)}`,
        endpoint: e,
        json: setAt(valid(e), [field], value),
        code: 'FORBIDDEN',
      });
    }

    // --- Methods, routes, Host -------------------------------------------------------------
    add({
      name: 'GET on sign/targets',
      endpoint: 'targets',
      method: 'GET',
      code: 'METHOD_NOT_ALLOWED',
    });
    add({
      name: 'PUT on sign/delegation',
      endpoint: 'delegation',
      method: 'PUT',
      json: valid('delegation'),
      code: 'METHOD_NOT_ALLOWED',
    });
    add({ name: 'DELETE on keys', endpoint: 'keys', method: 'DELETE', code: 'METHOD_NOT_ALLOWED' });
    add({
      name: 'POST /v1/sign',
      endpoint: 'targets',
      path: '/v1/sign',
      json: valid('targets'),
      code: 'NOT_FOUND',
    });
    add({
      name: 'POST /v1/sign/snapshot',
      endpoint: 'targets',
      path: '/v1/sign/snapshot',
      json: valid('targets'),
      code: 'NOT_FOUND',
    });
    add({
      name: 'Host evil.example',
      endpoint: 'targets',
      headers: { Host: 'evil.example' },
      json: valid('targets'),
      code: 'HOST_NOT_ALLOWED',
    });
    add({
      name: 'Host 127.0.0.1.nip.io',
      endpoint: 'delegation',
      headers: { Host: '127.0.0.1.nip.io' },
      json: valid('delegation'),
      code: 'HOST_NOT_ALLOWED',
    });
    return out;
  }

  async function run(c: Case, index: number): Promise<Outcome> {
    const id = `bad-${index}-${RUN}`;
    const who = c.who ?? OWNER[c.endpoint];
    const headers: Record<string, string> = { 'X-Request-Id': id };
    if (c.authorization === undefined) headers.Authorization = `Bearer ${token(who)}`;
    else if (c.authorization !== null) headers.Authorization = c.authorization;
    const raw = c.raw ?? (c.json === undefined ? undefined : JSON.stringify(c.json));
    if (raw !== undefined && c.contentType !== null) {
      headers['Content-Type'] = c.contentType ?? 'application/json';
    }
    const big = raw !== undefined && raw.length > 256 * 1024;
    const res = await send(daemon.url, {
      method: c.method ?? 'POST',
      path: c.path ?? PATHS[c.endpoint],
      headers: { ...headers, ...(c.headers ?? {}) },
      ...(raw === undefined ? {} : { body: raw }),
      ...(c.chunked ? { chunked: true } : {}),
      ...(c.earlyAnswerMs === undefined ? {} : { earlyAnswerMs: c.earlyAnswerMs }),
      ...(c.pauseAfterBytes === undefined ? {} : { pauseAfterBytes: c.pauseAfterBytes }),
      // big bodies get a connection of their own (a refused upload closes it)
      ...(big ? {} : { agent }),
    });
    let code = `(status ${res.status}: ${res.text.slice(0, 120)})`;
    try {
      code = errorOf(res).code;
    } catch {
      // reported by the assertions below
    }
    const health = await send(daemon.url, { method: 'GET', path: '/healthz', agent });
    expect({ case: c.name, healthz: health.status }).toEqual({ case: c.name, healthz: 200 });
    return { c, id, res, code };
  }

  it('answers each of at least 250 bad requests with a 4xx in the error format, and keeps serving', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThanOrEqual(250);
    expect(all.map((c) => c.name).filter((n, i, a) => a.indexOf(n) !== i)).toEqual([]);
    outcomes.push(...(await pool(all, 8, run)));
    const problems: string[] = [];
    for (const { c, id, res, code } of outcomes) {
      const want = STATUS[c.code];
      const seen = `${res.status} ${code}`;
      if (res.status < 400 || res.status > 499) problems.push(`${c.name}: got ${seen}`);
      if (`${want} ${c.code}` !== seen)
        problems.push(`${c.name}: want ${want} ${c.code}, got ${seen}`);
      try {
        const e = errorOf(res);
        if (!ERROR_CODE.test(e.code)) problems.push(`${c.name}: code ${e.code}`);
        if (e.message.length === 0 || e.message.length > 2048) {
          problems.push(`${c.name}: message of ${e.message.length} characters`);
        }
        // The daemon's own ID in the body and header; the caller's kept beside it.
        if (
          !UUID.test(e.requestId) ||
          res.headers['x-request-id'] !== e.requestId ||
          res.headers['x-client-request-id'] !== id
        ) {
          problems.push(
            `${c.name}: request ID ${e.requestId} / ${String(res.headers['x-request-id'])}`,
          );
        }
        if (!String(res.headers['content-type']).startsWith('application/json')) {
          problems.push(`${c.name}: Content-Type ${String(res.headers['content-type'])}`);
        }
      } catch (err) {
        problems.push(`${c.name}: ${(err as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
    // Nothing in any answer looks like a signature.
    expect(
      outcomes.filter((o) => o.res.text.includes('"signatures"')).map((o) => o.c.name),
    ).toEqual([]);
  });

  it('still signs a valid request afterwards (no state was polluted)', async () => {
    const signed = targetsDoc(fresh(), ['v9.9']);
    const id = `good-after-${RUN}`;
    goodIds.add(id);
    const res = await call(daemon.url, {
      path: PATHS.delegation,
      token: setup.ciToken,
      json: { gun: GUN, role: 'targets/ci', signed },
      requestId: id,
    });
    const [sig, ...more] = signaturesOf(res);
    expect(more).toEqual([]);
    expect(sig?.keyid).toBe(ciKey().id);
    expect(sig && signatureVerifies(ciKey(), signed, sig)).toBe(true);
    const after = await daemonKeys(daemon.url, setup.adminToken);
    expect([...after].map(([n, k]) => [n, k.id])).toEqual([...keys].map(([n, k]) => [n, k.id]));
  });

  it('signs a document sent canonically or not alike: each signature covers its canonical bytes', async () => {
    // Canonical text is signed as sent; any other spelling of the same value is encoded.
    const spellings: Array<(canonical: string, version: number) => string> = [
      (c) => c,
      (c) => JSON.stringify(JSON.parse(c), null, 2),
      (c) => c.replace('v5.é', 'v5.\\u00e9').replace('<b>', '\\u003cb>'),
      (c, v) => `{"version":${v},${c.slice(1).replace(/,"version":[0-9]+/, '')}`,
    ];
    for (const spell of spellings) {
      const signed = targetsDoc(fresh(), ['v5<b>&"x"', 'v5.é']);
      const canonical = canonicalJson(signed);
      const text = spell(canonical, signed.version as number);
      expect(parseJson(text)).toEqual(signed);
      if (spell !== spellings[0]) expect(text).not.toBe(canonical);
      const id = `spelling-${goodIds.size}-${RUN}`;
      goodIds.add(id);
      const res = await call(
        daemon.url,
        { path: PATHS.delegation, token: setup.ciToken, json: {}, requestId: id },
        { body: `{"gun":${JSON.stringify(GUN)},"role":"targets/ci","signed":${text}}` },
      );
      const [sig, ...more] = signaturesOf(res);
      expect(more).toEqual([]);
      expect(sig && signatureVerifies(ciKey(), signed, sig)).toBe(true);
    }
  });

  it('the audit log shows no bad request signed, and each pipeline refusal with the code the client saw', async () => {
    expect(outcomes.length).toBeGreaterThanOrEqual(250);
    expect(await daemon.stop()).toBe(0);
    const verified = await verifyAuditLog(join(setup.stateDir, AUDIT_LOG_FILE));
    expect(verified.ok).toBe(true);
    const records = await auditRecords(setup.stateDir);
    const byId = new Map<string, AuditEntry[]>();
    for (const r of records) {
      if (r.clientRequestId === undefined) continue;
      byId.set(r.clientRequestId, [...(byId.get(r.clientRequestId) ?? []), r]);
    }
    const badIds = new Set(outcomes.map((o) => o.id));
    // Nothing signed for a bad request.
    expect(
      records.filter((r) => r.outcome === 'signed' && badIds.has(r.clientRequestId ?? '')),
    ).toEqual([]);
    // What was signed is exactly the good requests.
    expect(
      records
        .filter((r) => r.outcome === 'signed')
        .map((r) => r.clientRequestId)
        .sort(),
    ).toEqual([...goodIds].sort());
    const problems: string[] = [];
    let audited = 0;
    for (const { c, id, code } of outcomes) {
      const mine = byId.get(id) ?? [];
      const client = c.who ?? OWNER[c.endpoint];
      if (!BEFORE_PIPELINE.has(code)) {
        audited++;
        const summary = mine.map((r) => `${r.outcome} ${r.code ?? ''} ${r.client}`);
        if (summary.join('|') !== `refused ${code} ${client}`) {
          problems.push(`${c.name}: audit ${JSON.stringify(summary)}, client saw ${code}`);
        }
      } else if (mine.some((r) => r.outcome !== 'refused' || r.code !== code)) {
        problems.push(`${c.name}: audit ${JSON.stringify(mine)}, client saw ${code}`);
      }
    }
    expect(problems).toEqual([]);
    expect(audited).toBeGreaterThanOrEqual(100);
  });
});

describe('notary-hsmd: bugs found with bad input', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    setup = await makeDaemonSetup();
    daemon = await startDaemonProcess(setup.config);
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('POST /v1/keys naming a token that is not configured is a 4xx, and not audited as done', async () => {
    const id = `keys-unknown-token-${RUN}`;
    const res = await call(daemon.url, {
      path: '/v1/keys',
      token: setup.adminToken,
      json: { token: 'nope', label: 'new-key', role: 'delegation' },
      requestId: id,
    });
    const e = errorOf(res);
    expect(res.headers['x-client-request-id']).toBe(id);
    const records = (await auditRecords(setup.stateDir)).filter((r) => r.requestId === e.requestId);
    expect(records.map((r) => r.clientRequestId)).toEqual([id]);
    // Today: 503 TOKEN_NOT_FOUND, after an audit record `signed` ("generate new-key …").
    expect({
      is4xx: res.status >= 400 && res.status < 500,
      outcomes: records.map((r) => r.outcome),
    }).toEqual({ is4xx: true, outcomes: ['refused'] });
  });

  it('POST /v1/keys that the token refuses (KEY_EXISTS) leaves an audit record saying it failed', async () => {
    const id = `keys-exists-${RUN}`;
    const res = await call(daemon.url, {
      path: '/v1/keys',
      token: setup.adminToken,
      json: { token: 'soft', label: 'root', id: '01', role: 'root' },
      requestId: id,
    });
    expect(res.status).toBe(409);
    expect(errorOf(res).code).toBe('KEY_EXISTS');
    const records = (await auditRecords(setup.stateDir)).filter((r) => r.clientRequestId === id);
    // The decision to generate may be recorded first (as sign does with `signed` + `failed`),
    // but the log must not end on a claim that the key was generated.
    expect(records.at(-1)).toMatchObject({ code: 'KEY_EXISTS' });
    expect(['failed', 'refused']).toContain(records.at(-1)?.outcome);
  });

  it('requests the HTTP parser refuses still get the error format and an X-Request-Id', async () => {
    const port = Number(new URL(daemon.url).port);
    const head = `Host: 127.0.0.1\r\nAuthorization: Bearer ${setup.adminToken}\r\nContent-Type: application/json\r\n`;
    const requests: [string, string][] = [
      [
        'Content-Length and chunked',
        `POST /v1/sign/targets HTTP/1.1\r\n${head}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      ],
      [
        'a 20 KB header',
        `POST /v1/sign/targets HTTP/1.1\r\n${head}X-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 2\r\n\r\n{}`,
      ],
      ['a broken request line', 'POST /v1/sign/targets HTTX/1.1\r\n\r\n'],
      [
        'bad chunk framing',
        `POST /v1/sign/targets HTTP/1.1\r\n${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      ],
    ];
    const answers: Record<string, string> = {};
    for (const [what, text] of requests) {
      const answer = await new Promise<string>((resolve) => {
        const s = connect(port, '127.0.0.1');
        let got = '';
        s.on('data', (d: Buffer) => (got += d.toString('latin1')));
        s.on('error', () => resolve(got));
        s.on('close', () => resolve(got));
        s.write(text);
        setTimeout(() => s.end(), 300);
      });
      const [headText = '', bodyText = ''] = answer.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headText)?.[1]);
      const rid = /\r\nx-request-id: ([^\r\n]+)/i.exec(headText)?.[1];
      let code: unknown;
      try {
        code = (JSON.parse(bodyText) as { error?: { code?: unknown; requestId?: unknown } }).error;
      } catch {
        code = undefined;
      }
      answers[what] =
        `${status >= 400 && status < 500 ? '4xx' : status} ` +
        `${rid === undefined ? 'no X-Request-Id' : 'X-Request-Id'} ` +
        `${code === undefined ? 'no error body' : 'error body'}`;
    }
    expect(answers).toEqual(
      Object.fromEntries(requests.map(([what]) => [what, '4xx X-Request-Id error body'])),
    );
    expect((await send(daemon.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
  });

  it('a CI request delegating to 8,000 roles is refused without stalling /healthz', async () => {
    // Parsing checks delegated role names for duplicates; done pairwise, 8,000 roles (430 KB,
    // well inside the body limit) hold the event loop for seconds, and ~19,000 (1 MiB) for
    // far longer, from a client that may only sign targets/ci.
    const signed = setAt(
      targetsDoc(2, ['v1']),
      ['delegations', 'roles'],
      [
        ...Array.from({ length: 8000 }, (_, i) => ({
          keyids: [],
          name: `targets/ci/r${i}`,
          threshold: 1,
        })),
      ],
    );
    let stop = false;
    let slowest = 0;
    const healthz = (async () => {
      const agent = keepAliveAgent(1);
      while (!stop) {
        const t = performance.now();
        expect((await send(daemon.url, { method: 'GET', path: '/healthz', agent })).status).toBe(
          200,
        );
        slowest = Math.max(slowest, performance.now() - t);
      }
      agent.destroy();
    })();
    const res = await call(daemon.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: GUN, role: 'targets/ci', signed },
      requestId: `many-roles-${RUN}`,
    });
    stop = true;
    await healthz;
    expect(`${res.status} ${errorOf(res).code}`).toBe('403 FORBIDDEN');
    // The pairwise check held the event loop for seconds; a linear one for a few ms. The
    // bound is wide so that a busy machine does not fail it, and still catches the seconds.
    expect(Math.round(slowest)).toBeLessThan(1000);
  });
});
