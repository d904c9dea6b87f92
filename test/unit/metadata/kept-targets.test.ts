/**
 * A targets file whose targets JSON.stringify writes canonically keeps them as parsed
 * (kept-targets.ts): no FileMeta per target until one is asked for, and its next version
 * written from them. Whatever the file, the model must read, write, compare and change
 * exactly as one built target by target does: generated files with names that sort
 * differently by UTF-16 and by code point, array-index names, `__proto__`, escapes,
 * hashes and members out of canonical order, other algorithms and custom data.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson } from '../../../src/metadata/canonical';
import { FileMeta } from '../../../src/metadata/file-meta';
import { jsonEqual, parseJson, type JsonObject, type JsonValue } from '../../../src/metadata/json';
import { Targets } from '../../../src/metadata/targets';
import { GoTime } from '../../../src/metadata/time';
import { fuzzRuns, fuzzSeed } from '../../helpers/fuzz-seed';

const b64 = (s: string, alg = 'sha256'): string =>
  createHash(alg).update(s).digest().toString('base64');

/** Target values as files may spell them (members written in the order given). */
const VALUE: Record<string, (k: number) => string> = {
  common: (k) => `{"hashes":{"sha256":"${b64(`${k}`)}"},"length":${k}}`,
  both: (k) =>
    `{"hashes":{"sha256":"${b64(`${k}`)}","sha512":"${b64(`${k}`, 'sha512')}"},"length":${k}}`,
  sha512First: (k) =>
    `{"hashes":{"sha512":"${b64(`${k}`, 'sha512')}","sha256":"${b64(`${k}`)}"},"length":${k}}`,
  lengthFirst: (k) => `{"length":${k},"hashes":{"sha256":"${b64(`${k}`)}"}}`,
  noHashes: (k) => `{"hashes":{},"length":${k}}`,
  md5: (k) => `{"hashes":{"md5":"${b64(`${k}`, 'md5')}"},"length":${k}}`,
  custom: (k) => `{"custom":{"b":1,"a":[${k}]},"hashes":{"sha256":"${b64(`${k}`)}"},"length":${k}}`,
  spaced: (k) => `{ "hashes": {"sha256": "${b64(`${k}`)}"}, "length": ${k} }`,
};

const HEAD =
  '{"_type":"Targets","delegations":{"keys":{},"roles":[]},"expires":"2030-01-02T03:04:05Z"';

function fileText(entries: ReadonlyArray<[string, string]>): string {
  const members = entries.map(([n, kind], k) => `${JSON.stringify(n)}:${VALUE[kind]?.(k)}`);
  return `${HEAD},"targets":{${members.join(',')}},"version":3}`;
}

/** The same file modelled target by target (the oracle). */
function modelled(v: JsonValue): Targets {
  const t = Targets.fromJson(v, 'targets/ci');
  const members = (v as JsonObject).targets as JsonObject;
  const map = new Map<string, FileMeta>();
  for (const name of Object.keys(members)) {
    map.set(name, FileMeta.fromJson(members[name], '/signed/targets', name));
  }
  return t.with({ targets: map });
}

function same(a: Targets, b: Targets): void {
  expect(a.canonicalText()).toBe(b.canonicalText());
  expect(a.canonicalText()).toBe(canonicalJson(a.toJson()));
  expect(jsonEqual(a.toJson(), b.toJson())).toBe(true);
  expect(a.targetCount).toBe(b.targetCount);
  expect([...a.targetNames()].sort()).toEqual([...b.targetNames()].sort());
  expect([...a.targets.keys()].sort()).toEqual([...b.targets.keys()].sort());
  a.targets.forEach((meta, name) => {
    expect(meta.canonicalText()).toBe(b.targets.get(name)?.canonicalText());
    expect(a.hasTarget(name)).toBe(true);
    expect(a.target(name)?.canonicalText()).toBe(meta.canonicalText());
  });
  expect(a.target('no such target')).toBeUndefined();
}

const chars = ['a', 'b', 'Z', '0', '1', '9', '"', '\\', '/', 'é', '\uff61', '😀', '<', '.'];
const name = fc.oneof(
  fc.array(fc.constantFrom(...chars), { minLength: 1, maxLength: 4 }).map((c) => c.join('')),
  fc.constantFrom('__proto__', '0', '42', '4294967294', '4294967295', '007', 'constructor'),
);
const entries = fc.uniqueArray(fc.tuple(name, fc.constantFrom(...Object.keys(VALUE))), {
  selector: ([n]) => n,
  maxLength: 10,
});

describe('targets kept as parsed', () => {
  it('a canonical file of common targets is not modelled target by target until asked', () => {
    const names = ['a', 'b/c', 'v1.0', 'é'];
    const text = fileText(names.map((n) => [n, 'common']));
    const v = parseJson(text);
    const spy = jest.spyOn(FileMeta, 'fromJson');
    try {
      const t = Targets.fromJson(v, 'targets/ci');
      expect(t.targetNames()).toEqual(names);
      expect(t.hasTarget('b/c')).toBe(true);
      expect(t.reproducedBy(v)).toBe(true);
      expect(t.canonicalText()).toBe(text);
      expect(spy).not.toHaveBeenCalled();
      expect(t.target('v1.0')?.length).toBe(2);
      expect(spy).toHaveBeenCalledTimes(1);
      spy.mockClear();
      expect(t.targets.size).toBe(4);
      expect(spy).toHaveBeenCalledTimes(4);
    } finally {
      spy.mockRestore();
    }
  });

  it('generated files read, write and compare as when modelled target by target', () => {
    fc.assert(
      fc.property(entries, fc.boolean(), (list, sorted) => {
        const ordered = sorted ? [...list].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : list;
        const v = parseJson(fileText(ordered));
        const t = Targets.fromJson(v, 'targets/ci');
        const oracle = modelled(v);
        same(t, oracle);
        expect(t.reproducedBy(v)).toBe(oracle.reproducedBy(v));
      }),
      {
        seed: fuzzSeed('kept-targets', 20261206),
        numRuns: fuzzRuns('FUZZ_KEPT_TARGETS_RUNS', 400),
      },
    );
  });

  it('generated changes give the version a modelled file gives', () => {
    const meta = fc.oneof(
      fc
        .nat(1000)
        .map((k) => FileMeta.sha256Hex(createHash('sha256').update(`n${k}`).digest('hex'), k)),
      fc
        .nat(1000)
        .map((k) => FileMeta.sha256(createHash('sha256').update(`c${k}`).digest(), k, { k })),
      fc
        .nat(1000)
        .map(
          (k) =>
            new FileMeta(
              k,
              new Map([['sha256', createHash('sha256').update(`s${k}`).digest().subarray(0, 31)]]),
            ),
        ),
    );
    fc.assert(
      fc.property(
        entries,
        fc.array(fc.tuple(name, meta), { maxLength: 6 }),
        fc.array(name, { maxLength: 4 }),
        (list, add, remove) => {
          const ordered = [...list].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          const v = parseJson(fileText(ordered));
          const changes = {
            version: 4,
            expires: GoTime.parse('2031-01-01T00:00:00Z'),
          };
          const adds = new Map(add);
          const next = Targets.fromJson(v, 'targets/ci').withTargets(adds, remove, changes);
          const oracle = modelled(v).withTargets(adds, remove, changes);
          same(next, oracle);
          expect(next.version).toBe(4);
          for (const n of remove) if (!adds.has(n)) expect(next.hasTarget(n)).toBe(false);
          adds.forEach((m, n) =>
            expect(next.targets.get(n)?.canonicalText()).toBe(m.canonicalText()),
          );
        },
      ),
      {
        seed: fuzzSeed('kept-targets-with', 1206),
        numRuns: fuzzRuns('FUZZ_KEPT_TARGETS_RUNS', 400),
      },
    );
  });

  it('a change leaves the file it started from as it was', () => {
    const text = fileText([
      ['a', 'common'],
      ['c', 'common'],
    ]);
    const t = Targets.fromJson(parseJson(text), 'targets/ci');
    const added = new Map([['b', FileMeta.sha256Hex('ab'.repeat(32), 9)]]);
    const next = t.withTargets(added, ['a'], { version: 4 });
    expect(next.targetNames()).toEqual(['b', 'c']);
    expect(t.canonicalText()).toBe(text);
    expect(t.targetNames()).toEqual(['a', 'c']);
  });
});
