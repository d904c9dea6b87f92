/**
 * Targets.canonicalText() writes canonicalJson(model.toJson()) without building the
 * targets' JSON (the client encodes a 10,000-target version this way). It must be the
 * same text for every model: targets in any insertion order, names that sort differently
 * by UTF-16 and by code point, integer-like names, `__proto__`, metas with sha512, other
 * algorithms, custom data, Go's nil delegations; and refuse what canonical JSON refuses.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { canonicalJson } from '../../../src/metadata/canonical';
import { FileMeta } from '../../../src/metadata/file-meta';
import { parseMetadata } from '../../../src/metadata/signed';
import { Targets } from '../../../src/metadata/targets';
import { GoTime } from '../../../src/metadata/time';
import { fuzzRuns, fuzzSeed } from '../../helpers/fuzz-seed';
import { ROLES, STAGES, vector } from '../../helpers/vectors';

const digest = (s: string, alg = 'sha256'): Buffer => createHash(alg).update(s).digest();

const META: Record<string, (k: number) => FileMeta> = {
  sha256: (k) => FileMeta.sha256(digest(`${k}`), k),
  sha256Hex: (k) => FileMeta.sha256Hex(digest(`${k}`).toString('hex'), k),
  both: (k) =>
    new FileMeta(
      k,
      new Map([
        ['sha512', digest(`${k}`, 'sha512')],
        ['sha256', digest(`${k}`)],
      ]),
    ),
  custom: (k) => FileMeta.sha256(digest(`${k}`), k, { note: ['z', k], a: null }),
  other: (k) => new FileMeta(k, new Map([['md5', digest(`${k}`, 'md5')]])),
  noHashes: (k) => new FileMeta(k, new Map()),
  three: (k) =>
    new FileMeta(
      k,
      new Map([
        ['sha512', digest(`${k}`, 'sha512')],
        ['md5', digest(`${k}`, 'md5')],
        ['sha256', digest(`${k}`)],
      ]),
    ),
  parsedOutOfOrder: (k) =>
    FileMeta.fromJson(
      {
        length: k,
        hashes: {
          sha512: digest(`${k}`, 'sha512').toString('base64'),
          sha256: digest(`${k}`).toString('base64'),
        },
      },
      '/t',
    ),
};

function model(entries: ReadonlyArray<[string, FileMeta]>, nil = false): Targets {
  return new Targets({
    expires: GoTime.parse('2030-01-02T03:04:05.123456789+01:00'),
    version: 7,
    targets: new Map(entries),
    ...(nil ? { delegationKeys: null, delegationRoles: null } : {}),
  });
}

describe('Targets.canonicalText', () => {
  it('every targets file of the notary reference', () => {
    let files = 0;
    for (const stage of STAGES) {
      for (const role of ROLES.filter((r) => r.startsWith('targets'))) {
        const t = parseMetadata(role, vector(stage, role)).signed;
        expect(t.canonicalText()).toBe(canonicalJson(t.toJson()));
        files++;
      }
    }
    expect(files).toBe(STAGES.length * 3);
  });

  it.each(Object.keys(META))('metas made %s', (kind) => {
    const make = META[kind] as (k: number) => FileMeta;
    const t = model([
      ['b', make(2)],
      ['a', make(1)],
    ]);
    const text = t.canonicalText();
    expect(text).toBe(canonicalJson(t.toJson()));
    expect(text.indexOf('"a":')).toBeLessThan(text.indexOf('"b":'));
  });

  it('names in canonical order whatever their insertion order', () => {
    const names = ['9', '10', '__proto__', 'é', '\u{1F600}', '\uff61', 'Z', 'a/b', 'a-b', ''];
    const t = model(
      names.map((n, k) => [n, META.sha256?.(k) as FileMeta]),
      true,
    );
    expect(t.canonicalText()).toBe(canonicalJson(t.toJson()));
    // The astral name sorts after U+FF61 by code point, before it by UTF-16 unit.
    const text = t.canonicalText();
    expect(text.indexOf('\uff61')).toBeLessThan(text.indexOf('\u{1F600}'));
  });

  it('refuses a name canonical JSON cannot carry, as canonicalJson does', () => {
    for (const bad of ['a\u0001', 'x\ud800']) {
      const t = model([[bad, META.sha256?.(1) as FileMeta]]);
      expect(() => canonicalJson(t.toJson())).toThrowWithCode('CANONICAL_UNREPRESENTABLE');
      expect(() => t.canonicalText()).toThrowWithCode('CANONICAL_UNREPRESENTABLE');
    }
  });

  it('generated models', () => {
    const chars = ['a', 'b', 'Z', '0', '9', '"', '\\', '/', 'é', '\uff61', '😀', ' ', '<'];
    const name = fc.array(fc.constantFrom(...chars), { maxLength: 4 }).map((c) => c.join(''));
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(name, fc.constantFrom(...Object.keys(META))), {
          selector: ([n]) => n,
          maxLength: 12,
        }),
        fc.boolean(),
        (entries, nil) => {
          const t = model(
            entries.map(([n, kind], k) => [n, (META[kind] as (k: number) => FileMeta)(k)]),
            nil,
          );
          expect(t.canonicalText()).toBe(canonicalJson(t.toJson()));
        },
      ),
      {
        seed: fuzzSeed('targets-canonical', 1305170553),
        numRuns: fuzzRuns('FUZZ_TARGETS_CANONICAL_RUNS', 500),
      },
    );
  });
});
