/**
 * "Sign only what you understand": checkSignRequest accepts well-formed root, targets
 * and delegation metadata inside the expiry window and returns the canonical bytes the
 * daemon will sign; a table of well over a hundred generated bad requests (wrong types,
 * unknown and prototype-named members, huge strings, deep nesting, values that are not
 * JSON, wrong `_type`, expiry out of policy, targets outside the paths, mismatched roles
 * and GUNs, damaged keys and hashes) must each fail with its NotaryHsmError code and a
 * 4xx status, and a seeded random mutation loop must only ever produce a success or a
 * 4xx NotaryHsmError — never a plain Error. Target names such as `__proto__` are data:
 * signed when the patterns allow them, refused like any other name when not, and never
 * touch a prototype.
 */
import { createHash } from 'node:crypto';
import { httpStatusFor, isNotaryHsmError, type ErrorCode } from '../../../src/errors';
import { canonicalBytes } from '../../../src/metadata/canonical';
import { parseJson, type JsonObject, type JsonValue } from '../../../src/metadata/json';
import { Root } from '../../../src/metadata/root';
import { Targets } from '../../../src/metadata/targets';
import { checkSignRequest, type GuardContext } from '../../../src/policy/guard';
import type { SignRequest } from '../../../src/signing/types';
import {
  DAY,
  DELEGATION_ROLE,
  NOW,
  PATHS,
  POLICY,
  context,
  copy,
  delegationSigned,
  expiresIn,
  prng,
  rootSigned,
  targetsSigned,
} from './fixtures';

type Endpoint = SignRequest['endpoint'];

const ROLE: Record<Endpoint, string> = {
  'sign/root': 'root',
  'sign/targets': 'targets',
  'sign/delegation': DELEGATION_ROLE,
};

const BASE: Record<Endpoint, () => JsonObject> = {
  'sign/root': rootSigned,
  'sign/targets': () => targetsSigned(),
  'sign/delegation': () => delegationSigned(),
};

function request(
  endpoint: Endpoint,
  signed: JsonValue,
  extra: Partial<SignRequest> = {},
): SignRequest {
  return { endpoint, gun: 'acme/api', role: ROLE[endpoint], signed, requestId: 'r1', ...extra };
}

function check(
  req: SignRequest,
  ctx: GuardContext = context(),
): ReturnType<typeof checkSignRequest> {
  return checkSignRequest(req, ctx);
}

/** The error of `fn`, which must be a NotaryHsmError. */
function failure(fn: () => unknown): { code: ErrorCode; message: string } {
  try {
    fn();
  } catch (err) {
    if (isNotaryHsmError(err)) return err;
    throw new Error(`not a NotaryHsmError: ${String(err)}`, { cause: err });
  }
  throw new Error('accepted');
}

describe('checkSignRequest accepts', () => {
  it.each(Object.keys(ROLE) as Endpoint[])(
    'valid %s metadata, returning the bytes to sign',
    (endpoint) => {
      const signed = copy(BASE[endpoint]());
      const out = check(request(endpoint, signed));
      expect(out.canonical.equals(canonicalBytes(signed))).toBe(true);
      expect(out.payloadDigest).toBe(createHash('sha256').update(out.canonical).digest('hex'));
      expect(out.version).toBe(signed.version);
      expect(out.model).toBeInstanceOf(endpoint === 'sign/root' ? Root : Targets);
    },
  );

  it('metadata parsed from text by the strict parser, members in any order', () => {
    const signed = delegationSigned();
    const text = `{${Object.keys(signed)
      .reverse()
      .map((k) => `${JSON.stringify(k)}:${JSON.stringify(signed[k])}`)
      .join(',')}}`;
    const out = check(request('sign/delegation', parseJson(text)));
    expect(out.canonical.equals(canonicalBytes(signed))).toBe(true);
  });

  it('members in any order at every level: the bytes signed are the canonical bytes sent', () => {
    const signed = delegationSigned(['v1', 'v2']);
    const reorder = (v: JsonValue): JsonValue => {
      if (Array.isArray(v)) return v.map(reorder);
      if (v === null || typeof v !== 'object') return v;
      const out: JsonObject = {};
      for (const k of Object.keys(v).reverse()) out[k] = reorder(v[k] as JsonValue);
      return out;
    };
    const out = check(request('sign/delegation', reorder(signed)));
    expect(out.canonical.equals(canonicalBytes(signed))).toBe(true);
  });

  it('nested delegation roles at their own endpoint', () => {
    const out = check(request('sign/delegation', delegationSigned(), { role: 'targets/a/b' }));
    expect(out.version).toBe(12);
  });

  it('a delegation without targets, even with no allowed paths', () => {
    expect(check(request('sign/delegation', delegationSigned([])), context([])).version).toBe(12);
  });

  describe('expiry at the edges of the window', () => {
    const skew = POLICY.clockSkewSeconds * 1000;
    const at = (ms: number, nanos = ''): string =>
      new Date(ms).toISOString().replace(/\.000Z$/, nanos === '' ? 'Z' : `.${nanos}Z`);
    const withExpiry = (endpoint: Endpoint, expires: string): SignRequest => {
      const signed = copy(BASE[endpoint]());
      signed.expires = expires;
      return request(endpoint, signed);
    };
    const limit = (endpoint: Endpoint): number =>
      NOW.getTime() +
      POLICY.maxExpiryDays[
        endpoint === 'sign/root' ? 'root' : endpoint === 'sign/targets' ? 'targets' : 'delegation'
      ] *
        DAY +
      skew;

    it.each(Object.keys(ROLE) as Endpoint[])('%s: the last allowed instant passes', (endpoint) => {
      expect(() => check(withExpiry(endpoint, at(limit(endpoint))))).not.toThrow();
    });
    it.each(Object.keys(ROLE) as Endpoint[])('%s: one nanosecond later fails', (endpoint) => {
      expect(() => check(withExpiry(endpoint, at(limit(endpoint), '000000001')))).toThrowWithCode(
        'EXPIRY_OUT_OF_POLICY',
      );
    });
    it('just after now − skew passes, now − skew fails', () => {
      const edge = NOW.getTime() - skew;
      expect(() => check(withExpiry('sign/targets', at(edge, '000000001')))).not.toThrow();
      expect(() => check(withExpiry('sign/targets', at(edge + 1000)))).not.toThrow();
      expect(() => check(withExpiry('sign/targets', at(edge)))).toThrowWithCode(
        'EXPIRY_OUT_OF_POLICY',
      );
    });
    it('reads zone offsets', () => {
      // 13:00+02:00 is 11:00Z: one hour before NOW, beyond the five-minute skew.
      expect(() => check(withExpiry('sign/targets', '2026-06-01T13:00:00+02:00'))).toThrowWithCode(
        'EXPIRY_OUT_OF_POLICY',
      );
      expect(() => check(withExpiry('sign/targets', '2026-06-01T15:00:00+02:00'))).not.toThrow();
    });
    it('refuses an expires the model would write differently (not the bytes sent)', () => {
      const expires = at(NOW.getTime() + DAY, '500000000');
      const err = failure(() => check(withExpiry('sign/targets', expires)));
      expect(err.code).toBe('FIELD_VALUE');
      expect(err.message).toContain('does not re-serialise to the same canonical bytes');
    });
    it('refuses a policy it cannot apply', () => {
      const bad = { ...context(), policy: { ...POLICY, clockSkewSeconds: Number.NaN } };
      expect(() => check(request('sign/targets', targetsSigned()), bad)).toThrowWithCode(
        'CONFIG_INVALID',
      );
    });
  });
});

describe('target names that are also prototype member names', () => {
  const NAMES = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'valueOf'];
  const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();

  function targetsWith(name: string, via: 'parseJson' | 'JSON.parse'): JsonObject {
    const signed = delegationSigned(['v1']);
    const text = JSON.stringify(signed).replace('"v1":', `${JSON.stringify(name)}:`);
    const parsed = via === 'parseJson' ? parseJson(text) : (JSON.parse(text) as JsonValue);
    return parsed as JsonObject;
  }

  it.each(
    NAMES.flatMap(
      (n) =>
        [
          [n, 'parseJson'],
          [n, 'JSON.parse'],
        ] as const,
    ),
  )('%j (from %s) is signed as data when the paths allow it', (name, via) => {
    const signed = targetsWith(name, via);
    const out = check(request('sign/delegation', signed), context(['**']));
    const model = out.model as Targets;
    expect([...model.targets.keys()]).toEqual([name]);
    expect(out.canonical.toString('utf8')).toContain(
      `"targets":{${JSON.stringify(name)}:{"hashes"`,
    );
    expect(out.canonical.equals(canonicalBytes(signed))).toBe(true);
    // The same at the top-level targets endpoint, which has no path limits.
    const top = copy(targetsSigned());
    top.targets = (signed as { targets: JsonObject }).targets;
    expect(() => check(request('sign/targets', top))).not.toThrow();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
    expect(({} as Record<string, unknown>).hashes).toBeUndefined();
  });

  it.each(NAMES)('%j is refused like any name outside the paths', (name) => {
    const req = request('sign/delegation', targetsWith(name, 'parseJson'));
    const err = failure(() => check(req, context(['releases/**'])));
    expect(err.code).toBe('TARGET_OUTSIDE_PATHS');
    expect(err.message).toContain(JSON.stringify(name));
  });
});

/** One bad request and the code it must fail with. */
interface Bad {
  readonly name: string;
  readonly code: ErrorCode;
  readonly req: () => SignRequest;
  readonly paths?: readonly string[];
}

/** A mutated copy of the endpoint's valid `signed`. */
function mutated(endpoint: Endpoint, edit: (s: JsonObject) => void): JsonObject {
  const s = copy(BASE[endpoint]());
  edit(s);
  return s;
}

function obj(v: JsonValue | undefined): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
  return v;
}

function defineOwn(o: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function deep(levels: number): JsonValue {
  let v: JsonValue = 'bottom';
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { d: v };
  return v;
}

const HUGE = 'A'.repeat(1 << 20);
const ENDPOINTS = Object.keys(ROLE) as Endpoint[];
const COMMON_FIELDS: Record<Endpoint, readonly string[]> = {
  'sign/root': ['_type', 'consistent_snapshot', 'expires', 'keys', 'roles', 'version'],
  'sign/targets': ['_type', 'delegations', 'expires', 'targets', 'version'],
  'sign/delegation': ['_type', 'delegations', 'expires', 'targets', 'version'],
};

function badRequests(): Bad[] {
  const out: Bad[] = [];
  const add = (
    name: string,
    code: ErrorCode,
    endpoint: Endpoint,
    signed: () => JsonValue,
    extra: Partial<SignRequest> = {},
    paths?: readonly string[],
  ): void => {
    out.push({
      name: `${endpoint}: ${name}`,
      code,
      req: () => request(endpoint, signed(), extra),
      ...(paths ? { paths } : {}),
    });
  };
  const mut = (endpoint: Endpoint, edit: (s: JsonObject) => void) => () => mutated(endpoint, edit);

  for (const e of ENDPOINTS) {
    const expected = e === 'sign/root' ? 'Root' : 'Targets';
    // Not an object at all.
    for (const [label, v] of [
      ['null', null],
      ['a number', 1],
      ['a string', 'signed'],
      ['a boolean', true],
      ['an array', []],
      ['an array of the object', [BASE[e]()]],
    ] as const) {
      add(`signed is ${label}`, 'FIELD_TYPE', e, () => copy(v as JsonValue));
    }
    add('signed is empty', 'FIELD_MISSING', e, () => ({}));
    // Missing and unknown members.
    for (const f of COMMON_FIELDS[e]) {
      add(
        `no ${f}`,
        'FIELD_MISSING',
        e,
        mut(e, (s) => delete s[f]),
      );
    }
    for (const f of [
      'extra',
      'signatures',
      'Version',
      '_TYPE',
      'constructor',
      'prototype',
      'toString',
    ]) {
      add(
        `unknown member ${f}`,
        'FIELD_UNKNOWN',
        e,
        mut(e, (s) => (s[f] = 1)),
      );
    }
    add(
      'own __proto__ member',
      'FIELD_UNKNOWN',
      e,
      mut(e, (s) => defineOwn(s, '__proto__', { polluted: true })),
    );
    add(
      '__proto__ member from JSON text',
      'FIELD_UNKNOWN',
      e,
      () =>
        JSON.parse(
          JSON.stringify(BASE[e]()).replace('{', '{"__proto__":{"polluted":true},'),
        ) as JsonValue,
    );
    // Wrong types and values of the common members.
    add(
      'version is a string',
      'FIELD_TYPE',
      e,
      mut(e, (s) => (s.version = '1')),
    );
    add(
      'version is 0',
      'FIELD_VALUE',
      e,
      mut(e, (s) => (s.version = 0)),
    );
    add(
      'version is negative',
      'FIELD_VALUE',
      e,
      mut(e, (s) => (s.version = -3)),
    );
    add(
      'version has a fraction',
      'FIELD_VALUE',
      e,
      mut(e, (s) => (s.version = 1.5)),
    );
    add(
      'version is 2^53',
      'FIELD_VALUE',
      e,
      mut(e, (s) => (s.version = 2 ** 53)),
    );
    add(
      'version is a huge numeric string',
      'FIELD_TYPE',
      e,
      mut(e, (s) => (s.version = '9'.repeat(100_000))),
    );
    add(
      'expires is a number',
      'FIELD_TYPE',
      e,
      mut(e, (s) => (s.expires = 1_900_000_000)),
    );
    add(
      'expires is prose',
      'EXPIRES_INVALID',
      e,
      mut(e, (s) => (s.expires = 'next year')),
    );
    add(
      'expires is February 30th',
      'EXPIRES_INVALID',
      e,
      mut(e, (s) => (s.expires = '2026-02-30T00:00:00Z')),
    );
    add(
      'expires lacks a zone',
      'EXPIRES_INVALID',
      e,
      mut(e, (s) => (s.expires = '2026-09-01T00:00:00')),
    );
    add(
      'expires is a huge string',
      'EXPIRES_INVALID',
      e,
      mut(e, (s) => (s.expires = `2026-09-01T00:00:00Z${HUGE}`)),
    );
    add(
      '_type is a number',
      'FIELD_TYPE',
      e,
      mut(e, (s) => (s._type = 1)),
    );
    add(
      '_type is null',
      'FIELD_TYPE',
      e,
      mut(e, (s) => (s._type = null)),
    );
    // Wrong `_type` for the endpoint.
    for (const t of [
      'Root',
      'Targets',
      'Snapshot',
      'Timestamp',
      'root',
      'targets',
      'TARGETS',
      '',
      ' Targets',
      HUGE,
    ]) {
      if (t === expected) continue;
      add(
        `_type ${JSON.stringify(t.slice(0, 12))}`,
        'WRONG_TYPE',
        e,
        mut(e, (s) => (s._type = t)),
      );
    }
    // Expiry out of policy.
    add(
      'expired a day ago',
      'EXPIRY_OUT_OF_POLICY',
      e,
      mut(e, (s) => (s.expires = expiresIn(-1))),
    );
    add(
      'expired in 1970',
      'EXPIRY_OUT_OF_POLICY',
      e,
      mut(e, (s) => (s.expires = '1970-01-01T00:00:00Z')),
    );
    add(
      'expires in year 9999',
      'EXPIRY_OUT_OF_POLICY',
      e,
      mut(e, (s) => (s.expires = '9999-12-31T23:59:59Z')),
    );
    add(
      'expires 11 years ahead',
      'EXPIRY_OUT_OF_POLICY',
      e,
      mut(e, (s) => (s.expires = expiresIn(11 * 366))),
    );
    // Not JSON data.
    add(
      'a NaN version',
      'JSON_INVALID',
      e,
      mut(e, (s) => (s.version = Number.NaN)),
    );
    add(
      'an Infinity version',
      'JSON_INVALID',
      e,
      mut(e, (s) => (s.version = Number.POSITIVE_INFINITY)),
    );
    add(
      'an undefined member',
      'JSON_INVALID',
      e,
      mut(e, (s) => (s.extra = undefined as unknown as JsonValue)),
    );
    add(
      'a function member',
      'JSON_INVALID',
      e,
      mut(e, (s) => (s.extra = (() => 1) as unknown as JsonValue)),
    );
    add(
      'a Date member',
      'JSON_INVALID',
      e,
      mut(e, (s) => (s.expires = new Date() as unknown as JsonValue)),
    );
    add(
      'a Map member',
      'JSON_INVALID',
      e,
      mut(e, (s) => (s.targets = new Map() as unknown as JsonValue)),
    );
    add(
      'a bigint version',
      'JSON_INVALID',
      e,
      mut(e, (s) => (s.version = 3n as unknown as JsonValue)),
    );
    add('an object with a prototype', 'JSON_INVALID', e, () =>
      Object.assign(Object.create({ inherited: true }) as JsonObject, BASE[e]()),
    );
    add(
      'an array with a hole',
      'JSON_INVALID',
      e,
      mut(e, (s) => {
        const holes: JsonValue[] = [1];
        holes[2] = 3;
        s.extra = holes;
      }),
    );
    // Deep nesting.
    add(
      'nesting 100 deep',
      'JSON_TOO_DEEP',
      e,
      mut(e, (s) => (s.extra = deep(100))),
    );
    add(
      'nesting 100,000 deep',
      'JSON_TOO_DEEP',
      e,
      mut(e, (s) => (s.extra = deep(100_000))),
    );
    // Roles that do not fit the endpoint.
    const wrongRoles =
      e === 'sign/root'
        ? ['targets', DELEGATION_ROLE, 'Root', 'ROOT', 'root ', '', 'snapshot', HUGE]
        : e === 'sign/targets'
          ? ['root', DELEGATION_ROLE, 'Targets', 'targets/', 'timestamp', HUGE]
          : ['targets', 'root', 'snapshot', 'targetsx/ci', 'Targets/ci-build', HUGE];
    for (const role of wrongRoles) {
      add(`role ${JSON.stringify(role.slice(0, 20))}`, 'ROLE_MISMATCH', e, () => BASE[e](), {
        role,
      });
    }
    // GUNs that are not GUNs.
    for (const gun of [
      'Acme/api',
      'acme/api/',
      'acme/../api',
      'acme//api',
      '\u0430cme/api',
      '\uff41cme/api',
      '',
      HUGE.toLowerCase(),
    ]) {
      add(`GUN ${JSON.stringify(gun.slice(0, 20))}`, 'GUN_INVALID', e, () => BASE[e](), { gun });
    }
  }

  // Delegation role names that look like delegations but are not.
  for (const role of [
    'targets/',
    'targets/CI-build',
    'targets/ci build',
    'targets//x',
    'targets/ci-build/',
    'targets/ci.build',
    `targets/${'x'.repeat(300)}`,
  ]) {
    add(
      `role ${JSON.stringify(role.slice(0, 30))}`,
      'ROLE_NAME_INVALID',
      'sign/delegation',
      () => delegationSigned(),
      { role },
    );
  }

  // Root specifics.
  const r = 'sign/root';
  const roles = (s: JsonObject): JsonObject => obj(s.roles);
  const firstKey = (s: JsonObject): JsonObject =>
    obj(obj(s.keys)[Object.keys(obj(s.keys))[0] as string]);
  add(
    'roles lacks snapshot',
    'FIELD_MISSING',
    r,
    mut(r, (s) => delete roles(s).snapshot),
  );
  add(
    'roles has a delegation',
    'FIELD_UNKNOWN',
    r,
    mut(r, (s) => (roles(s)['targets/x'] = obj(roles(s).targets))),
  );
  add(
    'roles has __proto__',
    'FIELD_UNKNOWN',
    r,
    mut(r, (s) => defineOwn(roles(s), '__proto__', obj(roles(s).targets))),
  );
  add(
    'threshold 0',
    'FIELD_VALUE',
    r,
    mut(r, (s) => (obj(roles(s).root).threshold = 0)),
  );
  add(
    'threshold a string',
    'FIELD_TYPE',
    r,
    mut(r, (s) => (obj(roles(s).root).threshold = '1')),
  );
  add(
    'keyids names an unlisted key',
    'FIELD_VALUE',
    r,
    mut(r, (s) => (obj(roles(s).root).keyids = ['0'.repeat(64)])),
  );
  add(
    'keyids holds a bad ID',
    'FIELD_VALUE',
    r,
    mut(r, (s) => (obj(roles(s).root).keyids = ['ABC'])),
  );
  add(
    'keyids lists a key twice',
    'FIELD_VALUE',
    r,
    mut(r, (s) => {
      const ids = obj(roles(s).root).keyids as string[];
      obj(roles(s).root).keyids = [...ids, ...ids];
    }),
  );
  add(
    'a key under another ID',
    'KEY_ID_MISMATCH',
    r,
    mut(r, (s) => {
      const keys = obj(s.keys);
      const [id] = Object.keys(keys) as [string];
      keys['f'.repeat(64)] = keys[id] as JsonValue;
    }),
  );
  add(
    'a key with a private part',
    'FIELD_VALUE',
    r,
    mut(r, (s) => (obj(firstKey(s).keyval).private = 'AAAA')),
  );
  add(
    'a key that is not base64',
    'BASE64_INVALID',
    r,
    mut(r, (s) => (obj(firstKey(s).keyval).public = 'not base64!')),
  );
  add(
    'a key with a __proto__ member',
    'FIELD_UNKNOWN',
    r,
    mut(r, (s) => defineOwn(firstKey(s), '__proto__', 'x')),
  );
  add(
    'consistent_snapshot a string',
    'FIELD_TYPE',
    r,
    mut(r, (s) => (s.consistent_snapshot = 'false')),
  );
  add(
    'keys is an array',
    'FIELD_TYPE',
    r,
    mut(r, (s) => (s.keys = [])),
  );

  // Targets specifics (top-level and delegation).
  for (const e of ['sign/targets', 'sign/delegation'] as const) {
    const meta = (s: JsonObject): JsonObject =>
      obj(obj(s.targets)[Object.keys(obj(s.targets))[0] as string]);
    add(
      'target without length',
      'FIELD_MISSING',
      e,
      mut(e, (s) => delete meta(s).length),
    );
    add(
      'target with negative length',
      'FIELD_VALUE',
      e,
      mut(e, (s) => (meta(s).length = -1)),
    );
    add(
      'target with a hex hash',
      'FIELD_VALUE',
      e,
      mut(e, (s) => (obj(meta(s).hashes).sha256 = 'ab'.repeat(32))),
    );
    add(
      'target with a short sha256',
      'FIELD_VALUE',
      e,
      mut(e, (s) => (obj(meta(s).hashes).sha256 = 'AAAA')),
    );
    add(
      'target with null custom',
      'FIELD_VALUE',
      e,
      mut(e, (s) => (meta(s).custom = null)),
    );
    add(
      'target with an unknown member',
      'FIELD_UNKNOWN',
      e,
      mut(e, (s) => (meta(s).extra = 1)),
    );
    add(
      'target meta is a string',
      'FIELD_TYPE',
      e,
      mut(e, (s) => (obj(s.targets)['v1.4'] = 'sha256:00')),
    );
    add(
      'targets is an array',
      'FIELD_TYPE',
      e,
      mut(e, (s) => (s.targets = [])),
    );
    add(
      'delegations is null',
      'FIELD_TYPE',
      e,
      mut(e, (s) => (s.delegations = null)),
    );
    add(
      'delegations lacks roles',
      'FIELD_MISSING',
      e,
      mut(e, (s) => delete obj(s.delegations).roles),
    );
    add(
      'delegations has __proto__',
      'FIELD_UNKNOWN',
      e,
      mut(e, (s) => defineOwn(obj(s.delegations), '__proto__', [])),
    );
    add(
      'a target name with a control character',
      'CANONICAL_UNREPRESENTABLE',
      e,
      mut(e, (s) => (obj(s.targets)['v\u0001'] = meta(s))),
      {},
      ['**'],
    );
    add(
      'a target name with a lone surrogate',
      'CANONICAL_UNREPRESENTABLE',
      e,
      mut(e, (s) => (obj(s.targets)['v\ud800'] = meta(s))),
      {},
      ['**'],
    );
  }
  const t = 'sign/targets';
  const role0 = (s: JsonObject): JsonObject => obj((obj(s.delegations).roles as JsonValue[])[0]);
  add(
    'a delegation not directly below targets',
    'ROLE_NAME_INVALID',
    t,
    mut(t, (s) => (role0(s).name = 'targets/a/b')),
  );
  add(
    'a delegation named targets',
    'ROLE_NAME_INVALID',
    t,
    mut(t, (s) => (role0(s).name = 'targets')),
  );
  add(
    'a delegation with empty paths',
    'FIELD_VALUE',
    t,
    mut(t, (s) => (role0(s).paths = [])),
  );
  add(
    'a delegation with an unlisted key',
    'FIELD_VALUE',
    t,
    mut(t, (s) => (role0(s).keyids = ['1'.repeat(64)])),
  );
  add(
    'a delegation listed twice',
    'FIELD_VALUE',
    t,
    mut(t, (s) => {
      const rs = obj(s.delegations).roles as JsonValue[];
      rs.push(copy(rs[0] as JsonValue));
    }),
  );

  // Delegation specifics: targets outside the paths, and delegating further.
  const d = 'sign/delegation';
  for (const name of [
    'x1',
    'V1',
    'v1/extra',
    'releases',
    'releases-evil/1',
    ' v1',
    '',
    '../v1',
    '__proto__',
    HUGE,
  ]) {
    add(
      `target ${JSON.stringify(name.slice(0, 20))} outside ${PATHS.join(' ')}`,
      'TARGET_OUTSIDE_PATHS',
      d,
      () => delegationSigned(['v1.4', name]),
    );
  }
  add(
    'any target with no allowed paths',
    'TARGET_OUTSIDE_PATHS',
    d,
    () => delegationSigned(['v1.4']),
    {},
    [],
  );
  add('delegating further', 'FORBIDDEN', d, () => {
    const s = targetsSigned(true);
    const role = obj((obj(s.delegations).roles as JsonValue[])[0]);
    role.name = `${DELEGATION_ROLE}/sub`;
    s.targets = {};
    return s;
  });
  add('delegation keys without a role (a change to delegations)', 'FORBIDDEN', d, () => {
    const s = delegationSigned(['v1.4']);
    const keys = obj(obj(targetsSigned(true).delegations).keys);
    s.delegations = { keys, roles: [] };
    return s;
  });
  add('a sub-delegation named for another parent', 'ROLE_NAME_INVALID', d, () =>
    targetsSigned(true),
  );
  return out;
}

describe('checkSignRequest refuses', () => {
  const bad = badRequests();

  it('a table of more than a hundred bad requests', () => {
    expect(bad.length).toBeGreaterThanOrEqual(250);
    expect(new Set(bad.map((b) => b.name)).size).toBe(bad.length);
  });

  it.each(bad.map((b) => [b.name, b] as const))('%s', (_name, b) => {
    const ctx = context(b.paths ?? PATHS);
    const err = failure(() => check(b.req(), ctx));
    expect(err.code).toBe(b.code);
    const status = httpStatusFor(err.code);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    expect(err.message.length).toBeLessThan(1000);
  });
});

describe('a seeded random mutation loop', () => {
  const WEIRD: readonly JsonValue[] = [
    null,
    true,
    0,
    -1,
    1.5,
    2 ** 53,
    '',
    'x',
    'Root',
    'Targets',
    '__proto__',
    'AAAA',
    '0'.repeat(64),
    '2026-07-01T00:00:00Z',
    '2099-01-01T00:00:00Z',
    [],
    {},
    Object.create(null) as JsonObject,
    ['x'],
    { keyids: [], threshold: 1 },
  ];

  type Container = JsonObject | JsonValue[];
  function containers(v: JsonValue, out: Container[] = []): Container[] {
    if (typeof v === 'object' && v !== null) {
      out.push(v);
      for (const c of Array.isArray(v) ? v : Object.values(v)) containers(c, out);
    }
    return out;
  }

  it('only ever succeeds or fails with a 4xx NotaryHsmError', () => {
    const rand = prng(20260601);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    const outcomes = new Map<string, number>();
    const plain: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const endpoint = pick(ENDPOINTS);
      const signed = copy(BASE[endpoint]());
      const edits = 1 + Math.floor(rand() * 3);
      for (let j = 0; j < edits; j++) {
        const c = pick(containers(signed));
        const keys = Array.isArray(c) ? c.map((_, k) => String(k)) : Object.keys(c);
        const op = rand();
        if (Array.isArray(c)) {
          if (op < 0.3 && c.length > 0) c.splice(Math.floor(rand() * c.length), 1);
          else c.push(copy(pick(WEIRD)));
        } else if (op < 0.25 && keys.length > 0) {
          delete c[pick(keys)];
        } else if (op < 0.7 && keys.length > 0) {
          c[pick(keys)] = copy(pick(WEIRD));
        } else {
          const name = pick(['__proto__', 'constructor', 'extra', 'v9', 'releases/x', 'sha512']);
          defineOwn(c, name, copy(pick(WEIRD)));
        }
      }
      try {
        const out = check(request(endpoint, signed));
        expect(out.canonical.equals(canonicalBytes(signed))).toBe(true);
        outcomes.set('signed', (outcomes.get('signed') ?? 0) + 1);
      } catch (err) {
        if (!isNotaryHsmError(err)) {
          plain.push(`${endpoint} #${i}: ${String(err)}`);
          continue;
        }
        const status = httpStatusFor(err.code);
        if (status < 400 || status >= 500) plain.push(`${endpoint} #${i}: ${err.code} → ${status}`);
        outcomes.set(err.code, (outcomes.get(err.code) ?? 0) + 1);
      }
    }
    expect(plain).toEqual([]);
    expect(outcomes.size).toBeGreaterThan(8);
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
});

describe('the bytes to sign', () => {
  it('are computed by the daemon, not taken from the caller', () => {
    const signed = copy(delegationSigned());
    const out = check(request('sign/delegation', signed));
    const model = out.model as Targets;
    expect(out.canonical.equals(canonicalBytes(model.toJson()))).toBe(true);
    expect(out.canonical.toString('utf8').startsWith('{"_type":"Targets","delegations"')).toBe(
      true,
    );
  });

  it('use the expiry exactly as written (offset and fraction kept)', () => {
    const signed = copy(delegationSigned());
    signed.expires = '2026-07-01T14:00:00.5+02:00';
    const out = check(request('sign/delegation', signed));
    expect(out.canonical.toString('utf8')).toContain('"expires":"2026-07-01T14:00:00.5+02:00"');
  });

  it('are never computed for an unknown endpoint', () => {
    const err = failure(() => check(request('sign/snapshot' as Endpoint, targetsSigned())));
    expect(err.code).toBe('USAGE');
  });

  it('see the clock the caller passes', () => {
    const later: GuardContext = { ...context(), now: new Date(NOW.getTime() + 400 * DAY) };
    expect(() => check(request('sign/delegation', delegationSigned()), later)).toThrowWithCode(
      'EXPIRY_OUT_OF_POLICY',
    );
  });
});
