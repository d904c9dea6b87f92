/**
 * A targets file whose targets are common and canonical keeps them as their text
 * (kept-targets.ts), handed over by the JSON reader unparsed or written from JSON.parse's
 * objects: no FileMeta per target until one is asked for, and its next version written
 * from that text. Whatever the file, the model must read, write, compare and change
 * exactly as one built target by target does: generated files with names that sort
 * differently by UTF-16 and by code point, array-index names, `__proto__`, escapes,
 * hashes and members out of canonical order, other algorithms and custom data.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson } from '../../../src/metadata/canonical';
import { FileMeta } from '../../../src/metadata/file-meta';
import {
  jsonEqual,
  parseJson,
  parseJsonKeeping,
  type Deferred,
  type JsonObject,
  type JsonValue,
} from '../../../src/metadata/json';
import { KeptTargets } from '../../../src/metadata/kept-targets';
import { TargetTexts } from '../../../src/metadata/target-texts';
import { DEFER_TARGETS, Targets } from '../../../src/metadata/targets';
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

/**
 * `signed` read as a file is (a metadata file around it): the parsed `signed` and, when the
 * JSON reader handed them over as text, its targets.
 */
function read(signed: string): [JsonValue, Deferred<KeptTargets> | undefined] {
  const { value, deferred } = parseJsonKeeping(`{"signed":${signed},"signatures":[]}`, 'signed', {
    integersOnly: true,
    defer: DEFER_TARGETS,
  });
  return [(value as JsonObject).signed as JsonValue, deferred];
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
    for (const [v, deferred] of [[parseJson(text)], read(text)] as const) {
      const fromJson = jest.spyOn(FileMeta, 'fromJson');
      const fromText = jest.spyOn(FileMeta, 'fromCommonText');
      const made = (): number => fromJson.mock.calls.length + fromText.mock.calls.length;
      try {
        const t = Targets.fromJson(v, 'targets/ci', '/signed', deferred);
        expect(t.targetNames()).toEqual(names);
        expect(t.hasTarget('b/c')).toBe(true);
        expect(t.hasTarget('b')).toBe(false);
        expect(t.reproducedBy(v)).toBe(true);
        expect(t.canonicalText()).toBe(text);
        expect(made()).toBe(0);
        expect(t.target('v1.0')?.length).toBe(2);
        expect(t.target('v1')).toBeUndefined();
        expect(made()).toBe(1);
        expect(t.targets.size).toBe(4);
        expect(made()).toBe(5);
      } finally {
        fromJson.mockRestore();
        fromText.mockRestore();
      }
    }
  });

  it('the JSON reader hands a signed file’s targets over as text, never as objects', () => {
    const text = fileText(['a', 'b', 'c'].map((n, i) => [n, i === 1 ? 'both' : 'common']));
    const [v, deferred] = read(text);
    expect(deferred).toBeDefined();
    // The parsed value holds an empty object where the targets were.
    expect((v as JsonObject).targets).toBe(deferred?.holder);
    expect(deferred?.holder).toEqual({});
    const t = Targets.fromJson(v, 'targets/ci', '/signed', deferred);
    same(t, modelled(parseJson(text)));
    // Another object than the one the reader left is not taken for the targets read.
    const other = { ...(v as JsonObject), targets: {} };
    expect(Targets.fromJson(other, 'targets/ci', '/signed', deferred).targetCount).toBe(0);
    expect(t.reproducedBy(other)).toBe(false);
    expect(t.reproducedBy(parseJson(text))).toBe(true);
  });

  it('a file with a target the text reader cannot keep is parsed whole, as before', () => {
    for (const kind of Object.keys(VALUE).filter((k) => k !== 'common' && k !== 'both')) {
      const text = fileText([
        ['a', 'common'],
        ['b', kind],
      ]);
      const [v, deferred] = read(text);
      expect(deferred).toBeUndefined();
      expect(jsonEqual(v, parseJson(text))).toBe(true);
    }
  });

  it('generated files read, write and compare as when modelled target by target', () => {
    let handedOver = 0;
    fc.assert(
      fc.property(entries, fc.boolean(), (list, sorted) => {
        const ordered = sorted ? [...list].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : list;
        const text = fileText(ordered);
        const v = parseJson(text);
        const t = Targets.fromJson(v, 'targets/ci');
        const oracle = modelled(v);
        same(t, oracle);
        expect(t.reproducedBy(v)).toBe(oracle.reproducedBy(v));
        // Read as a file is, its targets handed over as text when they can be.
        const [dv, deferred] = read(text);
        const d = Targets.fromJson(dv, 'targets/ci', '/signed', deferred);
        same(d, oracle);
        if (deferred) {
          handedOver++;
          expect(d.reproducedBy(dv)).toBe(true);
        }
      }),
      {
        seed: fuzzSeed('kept-targets', 20261206),
        numRuns: fuzzRuns('FUZZ_KEPT_TARGETS_RUNS', 400),
      },
    );
    // The text reader's path was taken, not only the fallback.
    expect(handedOver).toBeGreaterThan(0);
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
          const [dv, deferred] = read(fileText(ordered));
          const fromText = Targets.fromJson(dv, 'targets/ci', '/signed', deferred);
          same(fromText.withTargets(adds, remove, changes), oracle);
          // The same targets added as text (as a tag file gives them).
          const texts = new TargetTexts();
          for (const [n, m] of add) texts.set(n, m);
          expect([...texts.keys()]).toEqual([...adds.keys()]);
          same(fromText.withTargets(texts, remove, changes), oracle);
          same(Targets.fromJson(v, 'targets/ci').withTargets(texts, remove, changes), oracle);
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

  it('every target replaced: the new version holds exactly the added ones', () => {
    const text = fileText([
      ['a', 'common'],
      ['c', 'common'],
    ]);
    const [v, deferred] = read(text);
    const t = Targets.fromJson(v, 'targets/ci', '/signed', deferred);
    const texts = new TargetTexts()
      .setSha256Hex('c', 'cd'.repeat(32), 2)
      .setSha256Hex('a', 'ab'.repeat(32), 1);
    for (const remove of [[], ['a'], ['b']]) {
      const next = t.withTargets(texts, remove, { version: 4 });
      expect(next.targetNames()).toEqual(['a', 'c']);
      expect(next.target('a')?.equals(FileMeta.sha256Hex('ab'.repeat(32), 1))).toBe(true);
      same(next, modelled(parseJson(text)).withTargets(new Map(texts), remove, { version: 4 }));
    }
  });

  it('targets added as text read as the map they stand for', () => {
    const texts = new TargetTexts();
    const digest = (k: number): string => createHash('sha256').update(`t${k}`).digest('hex');
    texts.setSha256Hex('b', digest(1), 1);
    texts.set('a', FileMeta.sha256Hex(digest(2), 2));
    texts.setSha256Hex('b', digest(3), 3);
    expect(texts.size).toBe(2);
    expect([...texts.keys()]).toEqual(['b', 'a']);
    expect(texts.get('b')?.equals(FileMeta.sha256Hex(digest(3), 3))).toBe(true);
    expect(texts.has('a')).toBe(true);
    expect(texts.get('c')).toBeUndefined();
    expect([...texts].map(([n, m]) => [n, m.length])).toEqual([
      ['b', 3],
      ['a', 2],
    ]);
    expect(texts.kept()?.names).toEqual(['a', 'b']);
    // A target kept targets cannot hold leaves the map to be read target by target.
    texts.set('c', FileMeta.sha256(Buffer.alloc(32), 4, { note: 1 }));
    expect(texts.kept()).toBeUndefined();
    expect(texts.get('c')?.custom).toEqual({ note: 1 });
    expect(() => texts.setSha256Hex('d', 'zz', 1)).toThrowWithCode('USAGE');
    expect(() => texts.setSha256Hex('d', digest(4), 2 ** 53)).toThrowWithCode('USAGE');
  });

  it('text read alone is checked for what the JSON reader checks before it hands it over', () => {
    const value = VALUE.common?.(1) as string;
    const text = (names: string[]): string =>
      `{${names.map((n) => `${JSON.stringify(n)}:${value}`).join(',')}}`;
    expect(KeptTargets.fromText(text(['a', 'b']))?.names).toEqual(['a', 'b']);
    for (const names of [['b', 'a'], ['a', 'a'], ['\ud83d'], ['a\udc00b']]) {
      expect(KeptTargets.fromText(text(names))).toBeUndefined();
    }
    // A pair of surrogates is a character like any other, in code point order.
    expect(KeptTargets.fromText(text(['\uff61', '\u{1f600}']))?.names).toEqual(['\uff61', '😀']);
    expect(KeptTargets.fromText(text(['\u{1f600}', '\uff61']))).toBeUndefined();
    for (const bad of ['{', '{}x', `{"a":${value},}`, `{"a":${value}`, `{"a\u0001":${value}}`]) {
      expect(KeptTargets.fromText(bad)).toBeUndefined();
    }
  });
});
