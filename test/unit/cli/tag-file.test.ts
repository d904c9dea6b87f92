/**
 * `add --from-file` reads its file in one pass and in turns (cli/tag-file.ts); whatever
 * the file, the tags it keeps, their digests and sizes and their order, or the error it
 * refuses the file with, are those of the spec parser every other source goes through
 * (specLines, then parseTagSpecs), however many lines each turn reads.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { TagFile } from '../../../src/cli/tag-file';
import { fileText, parseTagSpecs, specLines } from '../../../src/cli/tag-specs';
import { canonicalJson } from '../../../src/metadata/canonical';
import type { FileMeta } from '../../../src/metadata/file-meta';
import { setMember, type JsonObject } from '../../../src/metadata/json';
import { TargetTexts } from '../../../src/metadata/target-texts';
import { fuzzRuns, fuzzSeed } from '../../helpers/fuzz-seed';

const HEX = createHash('sha256').update('x').digest('hex');

type Outcome = { tags: [string, unknown][] } | { error: string; code: unknown };

function outcome(read: () => ReadonlyMap<string, FileMeta>): Outcome {
  try {
    return { tags: [...read()].map(([tag, meta]) => [tag, meta.toJson()]) };
  } catch (err) {
    const e = err as { message: string; code?: unknown };
    return { error: e.message, code: e.code };
  }
}

const before = (bytes: Buffer): Outcome =>
  outcome(() => parseTagSpecs(specLines(bytes, 'tags.txt')));

function now(bytes: Buffer, perTurn: number): Outcome {
  return outcome(() => {
    const tags = new TargetTexts();
    const file = new TagFile(fileText(bytes, 'tags.txt'), 'tags.txt', tags);
    while (!file.done) file.read(perTurn);
    // As kept targets: the canonical text of the targets object the tags make.
    const object: JsonObject = {};
    tags.forEach((meta, tag) => setMember(object, tag, meta.toJson()));
    expect(tags.kept()?.text()).toBe(canonicalJson(object));
    return tags;
  });
}

const piece = {
  tag: fc.oneof(
    fc.constantFrom('v1', 'x y', ' lead', '#c', '', ' ', '\t', 'a=sha256:b', 'é', '😀', 'a\u0001b'),
    fc.string({ maxLength: 6 }),
  ),
  mark: fc.constantFrom('=sha256:', '=sha256:', '=sha256:', '=SHA256:', '=sha256', ''),
  hex: fc.oneof(
    fc.constant(HEX),
    fc.constant(HEX),
    fc.constantFrom(HEX.toUpperCase(), HEX.slice(1), `${HEX}0`, `g${HEX.slice(1)}`, ''),
  ),
  colon: fc.constantFrom(':', ':', ':', '', '::'),
  size: fc.constantFrom(
    '0',
    '1',
    '42',
    '007',
    '9007199254740991',
    '9007199254740992',
    '9999999999999999',
    '99999999999999999',
    '',
    '1 ',
    '-1',
  ),
  end: fc.constantFrom('\n', '\n', '\r\n', '\r\r\n', '\r'),
};

/** Mostly well-formed lines (tags Go can write, sizes in range), some of anything. */
const arbLine = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.tuple(
      fc.oneof(
        fc.constantFrom('v1', 'x y', ' lead', 'a=sha256:b', 'é', '😀', 'v1==', 'trail '),
        // eslint-disable-next-line no-control-regex -- the characters a tag may not hold
        fc.string({ minLength: 1, maxLength: 6 }).filter((t) => !/[\u0000-\u001f]/.test(t)),
      ),
      fc.constant('=sha256:'),
      fc.constant(HEX),
      fc.constant(':'),
      fc.constantFrom('0', '1', '42', '9007199254740991'),
    ),
  },
  { weight: 1, arbitrary: fc.tuple(piece.tag, piece.mark, piece.hex, piece.colon, piece.size) },
  { weight: 2, arbitrary: fc.constantFrom('', '   ', '# comment', '\t', '#', ' #x') },
);

describe('TagFile, against the spec parser', () => {
  it('keeps the same tags in the same order, or refuses with the same error', () => {
    let kept = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbLine, piece.end), { maxLength: 12 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 5 }),
        (lines, bom, perTurn) => {
          const text = lines
            .map(([l, end]) => (typeof l === 'string' ? l : l.join('')) + end)
            .join('');
          const bytes = Buffer.concat([Buffer.from(bom ? '\ufeff' : ''), Buffer.from(text)]);
          const expected = before(bytes);
          expect(now(bytes, perTurn)).toEqual(expected);
          expect(now(bytes, Infinity)).toEqual(expected);
          if ('tags' in expected && expected.tags.length > 1) kept++;
          if ('error' in expected) refused++;
        },
      ),
      { seed: fuzzSeed('tag-file', 1812), numRuns: fuzzRuns('FUZZ_TAG_FILE_RUNS', 500) },
    );
    // Both kinds of file were drawn, not only refusals.
    expect([kept > 50, refused > 50]).toEqual([true, true]);
  });

  it('10,000 lines, a tag given twice keeping its last digest and its first place', () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => {
      const hex = createHash('sha256').update(String(i)).digest('hex');
      return `t${i % 9000}=sha256:${hex}:${i}`;
    });
    const bytes = Buffer.from(lines.join('\r\n'));
    const expected = before(bytes);
    expect('tags' in expected && expected.tags.length).toBe(9000);
    expect(now(bytes, 1000)).toEqual(expected);
  });

  it('names the last of 10,000 lines when it alone is bad, as the spec parser does', () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => `t${i}=sha256:${HEX}:${i}`);
    lines[9999] = `last=sha256:${HEX}`;
    const bytes = Buffer.from(lines.join('\n'));
    const got = now(bytes, 1000);
    expect(got).toEqual(before(bytes));
    expect(got).toEqual({
      error: `--from-file tags.txt line 10000: "last=sha256:${HEX}": expected TAG=sha256:HEX:SIZE`,
      code: 'USAGE',
    });
  });

  it('takes as UTF-8 exactly what the fatal decoder takes', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const samples = [
      [0x61, 0xed, 0xbf, 0xbf, 0x62], // a lone surrogate (WTF-8)
      [0xc0, 0xaf], // an overlong '/'
      [0xe0, 0x80, 0xaf], // another
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xf8, 0x88, 0x80, 0x80, 0x80], // five bytes
      [0x61, 0xe2, 0x82], // cut short at the end
      [0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x61], // two byte-order marks
      [0xf0, 0x9f, 0x98, 0x80, 0xc3, 0xa9, 0xe2, 0x80, 0xa8], // 😀, é, U+2028
    ];
    for (const sample of samples) {
      const bytes = Buffer.from([0x6f, 0x6b, 0x0a, ...sample, 0x0a]);
      let expected: string;
      try {
        expected = fatal.decode(bytes);
      } catch {
        expected = 'refused';
      }
      let got: string;
      try {
        got = fileText(bytes, 'f');
      } catch (err) {
        expect((err as Error).message).toBe('--from-file f line 2: not valid UTF-8');
        got = 'refused';
      }
      expect([sample, got]).toEqual([sample, expected]);
    }
  });

  it('says whether any line is a spec', () => {
    const has = (text: string): boolean => new TagFile(text, 'f', new TargetTexts()).hasSpec();
    expect(has('')).toBe(false);
    expect(has('# a\n\n  \r\n#b\r\n')).toBe(false);
    expect(has('# a\n\nv1')).toBe(true);
    expect(has('\r\r\n')).toBe(false);
    expect(has('\r\r\nx\r\n')).toBe(true);
  });
});
