/**
 * Proves that the strict metadata reader refuses damaged Notary files with the right
 * stable code and nothing else. A table of named mutations of the notary 0.7.0 reference
 * captures (wrong types, missing and unknown members, bad base64, damaged signatures,
 * wrong `_type`, out-of-range numbers, duplicate members, encodings, escapes, nesting,
 * key/role inconsistencies, malformed `expires`) must each fail in parseMetadata — or, for
 * signature damage, in verifyThreshold with the real root's keys — with one expected
 * NotaryHsmError code. A few tricky but legal edits must parse and round-trip. Finally a
 * seeded random mutation loop shows that every outcome is either a NotaryHsmError or a
 * successful parse that re-serialises to Go-exact bytes reading back to the same model.
 */
import { isNotaryHsmError, type ErrorCode } from '../../../src/errors';
import { canonicalBytes, canonicalJson } from '../../../src/metadata/canonical';
import { BASE_ROLES, type BaseRole } from '../../../src/metadata/roles';
import {
  parseMetadata,
  serialize,
  toWire,
  type SignedMetadata,
} from '../../../src/metadata/signed';
import { verifyThreshold, type Requirement } from '../../../src/metadata/verify';
import {
  MUTATIONS,
  prng,
  randomMutation,
  replaceText,
  set,
  type Mutation,
} from '../../helpers/mutations';
import { STAGES, vector, type Stage } from '../../helpers/vectors';

const MUTATION_FILES: readonly string[] = [
  'root',
  'targets',
  'targets/releases',
  'snapshot',
  'timestamp',
];

const requirements = new Map<string, Requirement>();

/** Who must sign `role` in `stage`, from the reference root (or targets, for delegations). */
function requirement(stage: Stage, role: string): Requirement {
  const cacheKey = `${stage}:${role}`;
  const cached = requirements.get(cacheKey);
  if (cached) return cached;
  let req: Requirement;
  if ((BASE_ROLES as readonly string[]).includes(role)) {
    const root = parseMetadata('root', vector(stage, 'root')).signed;
    const base = role as BaseRole;
    req = { role, keys: root.roleKeys(base), threshold: root.role(base).threshold };
  } else {
    const targets = parseMetadata('targets', vector(stage, 'targets')).signed;
    const d = targets.delegationRoles.find((r) => r.name === role);
    if (!d) throw new Error(`no delegation ${role}`);
    req = { role, keys: targets.keysOf(d), threshold: d.threshold };
  }
  requirements.set(cacheKey, req);
  return req;
}

/** The model as comparable text: Go field set of `signed` plus the wire signatures. */
function model(m: SignedMetadata): string {
  return canonicalJson({
    signed: m.signed.toJson(),
    signatures: m.signatures.map((s) => ({ ...toWire(s) })),
  });
}

/** Asserts the round-trip property of a successfully parsed file; returns a problem or ''. */
function roundTripProblem(role: string, parsed: SignedMetadata): string {
  const again = serialize(parsed.signed, parsed.signatures);
  const back = parseMetadata(role, again);
  if (model(back) !== model(parsed)) return 'model changed after re-serialisation';
  if (!serialize(back.signed, back.signatures).equals(again))
    return 'second re-serialisation differs';
  if (!back.message.equals(canonicalBytes(back.signed.toJson()))) {
    return 're-serialised file signs something other than its model';
  }
  return '';
}

describe('the reference files are sound (so each failure below is the mutation)', () => {
  it.each(STAGES.flatMap((s) => MUTATION_FILES.map((f) => [s, f] as const)))(
    '%s %s parses, verifies, and JSON.stringify reproduces its bytes',
    (stage, role) => {
      const bytes = vector(stage, role);
      const parsed = parseMetadata(role, bytes);
      const req = requirement(stage, role);
      expect(verifyThreshold(parsed.message, parsed.signatures, req)).toHaveLength(1);
      expect(JSON.stringify(JSON.parse(bytes.toString('utf8')))).toBe(bytes.toString('utf8'));
    },
  );
});

describe('named mutations', () => {
  it('the table is large, uniquely named and covers every code the reader promises', () => {
    expect(MUTATIONS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(MUTATIONS.map((m) => m.name)).size).toBe(MUTATIONS.length);
    const codes = new Set(MUTATIONS.map((m) => m.code));
    const promised: ErrorCode[] = [
      'FIELD_TYPE',
      'FIELD_MISSING',
      'FIELD_UNKNOWN',
      'FIELD_VALUE',
      'BASE64_INVALID',
      'TYPE_MISMATCH',
      'JSON_INVALID',
      'JSON_DUPLICATE_KEY',
      'JSON_TOO_DEEP',
      'EXPIRES_INVALID',
      'KEY_ID_MISMATCH',
      'ROLE_NAME_INVALID',
      'THRESHOLD_NOT_MET',
      'CANONICAL_UNREPRESENTABLE',
    ];
    for (const code of promised) expect(codes).toContain(code);
    for (const file of MUTATION_FILES) {
      expect(MUTATIONS.filter((m) => m.file === file).length).toBeGreaterThanOrEqual(5);
    }
  });

  it.each(MUTATIONS.map((m) => [m.name, m] as [string, Mutation]))('%s', (_name, mu) => {
    const bytes = mu.apply(vector(mu.stage, mu.file));
    if (mu.phase === 'parse') {
      expect(() => parseMetadata(mu.parseAs, bytes)).toThrowWithCode(mu.code);
    } else {
      const parsed = parseMetadata(mu.parseAs, bytes);
      const req = requirement(mu.stage, mu.parseAs);
      expect(() => verifyThreshold(parsed.message, parsed.signatures, req)).toThrowWithCode(
        mu.code,
      );
    }
  });

  it('no mutation pollutes Object.prototype', () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    for (const mu of MUTATIONS) {
      try {
        parseMetadata(mu.parseAs, mu.apply(vector(mu.stage, mu.file)));
      } catch {
        // expected
      }
    }
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
    expect(({} as Record<string, unknown>).signed).toBeUndefined();
    expect(({} as Record<string, unknown>).version).toBeUndefined();
  });
});

describe('edits that are legal must parse and round-trip', () => {
  const accepted: [string, string, (ref: Buffer) => Buffer][] = [
    ['a target named __proto__', 'targets/releases', replaceText('"v1.1"', '"__proto__"')],
    ['a target named constructor', 'targets/releases', replaceText('"v1.1"', '"constructor"')],
    ['a snapshot pin named __proto__', 'snapshot', replaceText('"targets/ci"', '"__proto__"')],
    [
      'an unknown hash algorithm named __proto__',
      'targets',
      replaceText('"sha512"', '"__proto__"'),
    ],
    ['HTML characters written raw', 'targets/releases', replaceText('"v1.1"', '"a<b&c>é"')],
    ['HTML characters written escaped', 'targets/releases', replaceText('"v1.1"', '"a\\u003cb"')],
    ['expires with +00:00', 'snapshot', set(['signed', 'expires'], '2029-11-21T00:00:22+00:00')],
    ['expires with .000Z', 'snapshot', set(['signed', 'expires'], '2029-11-21T00:00:22.000Z')],
    ['length -0', 'targets', replaceText('"length":8', '"length":-0')],
    ['a trailing newline', 'timestamp', (b) => Buffer.concat([b, Buffer.from('\n')])],
    ['whitespace between tokens', 'timestamp', replaceText('{"signed":', '{ "signed" :\t')],
    [
      'unknown method (it simply does not count)',
      'root',
      replaceText('"method":"ecdsa"', '"method":"rsapss"'),
    ],
    [
      'custom data',
      'targets',
      replaceText('"length":8', '"length":8,"custom":{"b":[1,{"a":null}]}'),
    ],
  ];

  it.each(accepted)('%s', (_name, role, apply) => {
    const parsed = parseMetadata(role, apply(vector('final', role)));
    expect(roundTripProblem(role, parsed)).toBe('');
  });

  it('a target named __proto__ survives re-serialisation', () => {
    const role = 'targets/releases';
    const parsed = parseMetadata(role, replaceText('"v1.1"', '"__proto__"')(vector('final', role)));
    expect([...parsed.signed.targets.keys()].sort()).toEqual(['__proto__', 'v1.2']);
    const again = serialize(parsed.signed, parsed.signatures);
    expect(again.toString('utf8')).toContain('"__proto__":{"hashes":');
    expect(canonicalBytes(parsed.signed.toJson()).equals(parsed.message)).toBe(true);
  });

  it('a pin named __proto__ and a hash named __proto__ survive re-serialisation', () => {
    const snap = parseMetadata(
      'snapshot',
      replaceText('"targets/ci"', '"__proto__"')(vector('final', 'snapshot')),
    );
    expect(serialize(snap.signed, snap.signatures).toString('utf8')).toContain('"__proto__":{');
    const targets = parseMetadata(
      'targets',
      replaceText('"sha512"', '"__proto__"')(vector('final', 'targets')),
    );
    expect([...(targets.signed.targets.get('v1.0')?.hashes.keys() ?? [])]).toContain('__proto__');
    expect(serialize(targets.signed, targets.signatures).toString('utf8')).toContain(
      '"__proto__":"',
    );
  });

  it('raw HTML characters re-serialise Go-escaped, as different bytes with the same message', () => {
    const role = 'targets/releases';
    const raw = replaceText('"v1.1"', '"a<b&c>é"')(vector('final', role));
    const parsed = parseMetadata(role, raw);
    const again = serialize(parsed.signed, parsed.signatures);
    expect(again.equals(raw)).toBe(false);
    expect(again.toString('utf8')).toContain('"a\\u003cb\\u0026c\\u003eé"');
    expect(parseMetadata(role, again).message.equals(parsed.message)).toBe(true);
  });
});

describe('seeded random mutations', () => {
  const ITERATIONS = 2000;
  const FILES: readonly [Stage, string][] = STAGES.flatMap((s) =>
    [...MUTATION_FILES, 'targets/ci'].map((r) => [s, r] as [Stage, string]),
  );

  it(`${ITERATIONS} mutations: a NotaryHsmError or a parse that round-trips, nothing else`, () => {
    const rand = prng(0x5eed_c0de);
    const problems: string[] = [];
    const codes = new Map<string, number>();
    let parsedOk = 0;
    let verifiedOk = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const [stage, role] = FILES[Math.floor(rand() * FILES.length)] as [Stage, string];
      const bytes = randomMutation(rand, vector(stage, role));
      const where = `#${i} ${stage}/${role}: ${JSON.stringify(bytes.toString('latin1').slice(0, 120))}…`;
      let parsed: SignedMetadata;
      try {
        parsed = parseMetadata(role, bytes);
      } catch (err) {
        if (isNotaryHsmError(err)) codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
        else problems.push(`${where} parse threw ${String(err)}`);
        continue;
      }
      parsedOk++;
      try {
        verifyThreshold(parsed.message, parsed.signatures, requirement(stage, role));
        verifiedOk++;
      } catch (err) {
        if (!isNotaryHsmError(err, 'THRESHOLD_NOT_MET')) {
          problems.push(`${where} verify threw ${String(err)}`);
        }
      }
      try {
        const problem = roundTripProblem(role, parsed);
        if (problem) problems.push(`${where} ${problem}`);
      } catch (err) {
        problems.push(`${where} round trip threw ${String(err)}`);
      }
    }
    expect(problems).toEqual([]);
    // The loop must exercise both outcomes and many distinct refusals.
    expect(parsedOk).toBeGreaterThan(50);
    expect(ITERATIONS - parsedOk).toBeGreaterThan(ITERATIONS / 2);
    expect(verifiedOk).toBeLessThan(parsedOk);
    expect(codes.size).toBeGreaterThanOrEqual(8);
  });

  it('is deterministic: the same seed produces the same mutations', () => {
    const a = prng(42);
    const b = prng(42);
    const ref = vector('final', 'root');
    for (let i = 0; i < 50; i++) {
      expect(randomMutation(a, ref).equals(randomMutation(b, ref))).toBe(true);
    }
  });
});
