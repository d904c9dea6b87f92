/**
 * FileMeta parsing: the common target shape (`hashes` with sha256 and/or sha512, and
 * `length`) is read by one quick check that decodes nothing, everything else by the
 * field-by-field reader. Both must accept and refuse the same values, the quick one must
 * hand anything unusual to the other (which names the path), and the digests must come
 * out as the bytes the file spells.
 */
import { createHash } from 'node:crypto';
import { FileMeta } from '../../../src/metadata/file-meta';
import type { JsonValue } from '../../../src/metadata/json';

const sha256 = createHash('sha256').update('a').digest();
const sha512 = createHash('sha512').update('a').digest();
const b64 = (b: Buffer): string => b.toString('base64');

describe('FileMeta.fromJson', () => {
  it.each([
    ['sha256', { hashes: { sha256: b64(sha256) }, length: 12 }],
    ['sha512', { hashes: { sha512: b64(sha512) }, length: 0 }],
    ['both', { hashes: { sha256: b64(sha256), sha512: b64(sha512) }, length: 2 ** 53 - 1 }],
    ['another algorithm', { hashes: { md5: 'AAAAAAAAAAAAAAAAAAAAAA==' }, length: 1 }],
    ['custom data', { custom: { a: [1] }, hashes: { sha256: b64(sha256) }, length: 3 }],
    ['no hashes', { hashes: {}, length: 3 }],
  ] as [string, JsonValue][])('reads %s and writes the same JSON back', (_what, v) => {
    const meta = FileMeta.fromJson(v, '/t');
    expect(meta.toJson()).toEqual(v);
    const hashes = (v as { hashes: Record<string, string> }).hashes;
    for (const [alg, h] of Object.entries(hashes)) {
      expect(meta.hashes.get(alg)?.equals(Buffer.from(h, 'base64'))).toBe(true);
    }
  });

  it('gives the sha256 digest as bytes and checks a file against it', () => {
    const bytes = Buffer.from('a');
    const meta = FileMeta.fromJson({ hashes: { sha256: b64(sha256) }, length: 1 }, '/t');
    expect(meta.sha256Digest?.equals(sha256)).toBe(true);
    expect(() => meta.check(bytes, 'f')).not.toThrow();
    expect(() => meta.check(Buffer.from('b'), 'f')).toThrowWithCode('HASH_MISMATCH');
    expect(meta.equals(FileMeta.sha256(sha256, 1))).toBe(true);
  });

  // A sha256 whose last character carries bits base64 drops: not the canonical spelling.
  const loose = `${b64(sha256).slice(0, 42)}B=`; // 'B' is 1: a low bit set
  it.each([
    [
      'a non-canonical base64 digest',
      { hashes: { sha256: loose }, length: 1 },
      'BASE64_INVALID',
      '/t/hashes/sha256',
    ],
    [
      'a short sha256',
      { hashes: { sha256: 'AAAA' }, length: 1 },
      'FIELD_VALUE',
      '/t/hashes/sha256',
    ],
    [
      'a sha512 the size of a sha256',
      { hashes: { sha512: b64(sha256) }, length: 1 },
      'FIELD_VALUE',
      '/t/hashes/sha512',
    ],
    ['a negative length', { hashes: {}, length: -1 }, 'FIELD_VALUE', '/t/length'],
    ['a length beyond 2^53', { hashes: {}, length: 2 ** 53 }, 'FIELD_VALUE', '/t/length'],
    ['a string length', { hashes: {}, length: '1' }, 'FIELD_TYPE', '/t/length'],
    ['an unknown member', { hashes: {}, length: 1, x: 1 }, 'FIELD_UNKNOWN', '/t/x'],
    ['a missing length', { hashes: {} }, 'FIELD_MISSING', '/t/length'],
    [
      'a digest that is not a string',
      { hashes: { sha256: 1 }, length: 1 },
      'FIELD_TYPE',
      '/t/hashes/sha256',
    ],
    ['null custom data', { custom: null, hashes: {}, length: 1 }, 'FIELD_VALUE', '/t/custom'],
  ] as [string, JsonValue, string, string][])(
    'refuses %s, naming the path',
    (_what, v, code, path) => {
      expect(() => FileMeta.fromJson(v, '/t')).toThrowWithCode(code);
      expect(() => FileMeta.fromJson(v, '', 't')).toThrow(`${path}:`);
    },
  );

  it('a member of a parent: its name joins the path as a JSON pointer token', () => {
    const ok = FileMeta.fromJson({ hashes: { sha256: b64(sha256) }, length: 1 }, '/x', 'a/b');
    expect(ok.length).toBe(1);
    expect(() => FileMeta.fromJson({ hashes: {}, length: -1 }, '/x', 'a/b~')).toThrow(
      '/x/a~1b~0/length',
    );
  });
});

describe('FileMeta.sha256Hex', () => {
  it('spells each digest as its own base64 encoding does', () => {
    const digests = Array.from({ length: 300 }, (_, i) =>
      createHash('sha256').update(`d${i}`).digest(),
    );
    digests.push(Buffer.alloc(32, 0xff), Buffer.alloc(32, 0));
    digests.forEach((want, i) => {
      const meta = FileMeta.sha256Hex(want.toString('hex'), i);
      expect(meta.toJson()).toEqual({ hashes: { sha256: want.toString('base64') }, length: i });
      expect(meta.sha256Digest?.equals(want)).toBe(true);
    });
  });

  it('refuses what is not 64 hex digits instead of keeping a shorter digest', () => {
    for (const bad of ['ab', 'zz'.repeat(32), `${'a'.repeat(62)}zz`, 'a'.repeat(66)]) {
      expect(() => FileMeta.sha256Hex(bad, 1)).toThrowWithCode('USAGE');
    }
  });
});

describe('FileMeta.fromCommonText and the common canonical text', () => {
  const common: [string, JsonValue][] = [
    ['sha256', { hashes: { sha256: b64(sha256) }, length: 12 }],
    ['sha256 and sha512', { hashes: { sha256: b64(sha256), sha512: b64(sha512) }, length: 0 }],
    ['the longest length', { hashes: { sha256: b64(sha256) }, length: 2 ** 53 - 1 }],
  ];

  it.each(common)('reads %s from its canonical text as fromJson reads its JSON', (_what, v) => {
    const text = JSON.stringify(v);
    const meta = FileMeta.fromCommonText(text);
    expect(meta?.toJson()).toEqual(v);
    expect(meta?.canonicalText()).toBe(text);
    expect(meta?.isCommon()).toBe(true);
    expect(meta?.equals(FileMeta.fromJson(v, '/t'))).toBe(true);
  });

  it('writes a sha256 target made from its digest in the canonical text of its JSON', () => {
    for (let i = 0; i < 200; i++) {
      const digest = createHash('sha256').update(`w${i}`).digest();
      for (const meta of [
        FileMeta.sha256Hex(digest.toString('hex'), i * 7919),
        FileMeta.sha256(digest, i),
      ]) {
        expect(meta.canonicalText()).toBe(JSON.stringify(meta.toJson()));
        expect(FileMeta.fromCommonText(meta.canonicalText())?.equals(meta)).toBe(true);
      }
    }
  });

  it.each([
    ['sha512 alone', `{"hashes":{"sha512":"${b64(sha512)}"},"length":1}`],
    [
      'sha512 before sha256',
      `{"hashes":{"sha512":"${b64(sha512)}","sha256":"${b64(sha256)}"},"length":1}`,
    ],
    ['length first', `{"length":1,"hashes":{"sha256":"${b64(sha256)}"}}`],
    ['a leading zero', `{"hashes":{"sha256":"${b64(sha256)}"},"length":01}`],
    ['an unsafe length', `{"hashes":{"sha256":"${b64(sha256)}"},"length":9007199254740992}`],
    ['seventeen digits', `{"hashes":{"sha256":"${b64(sha256)}"},"length":10000000000000000}`],
    ['a negative length', `{"hashes":{"sha256":"${b64(sha256)}"},"length":-1}`],
    ['a fraction', `{"hashes":{"sha256":"${b64(sha256)}"},"length":1.5}`],
    ['whitespace', `{"hashes":{"sha256":"${b64(sha256)}"}, "length":1}`],
    ['custom data', `{"custom":1,"hashes":{"sha256":"${b64(sha256)}"},"length":1}`],
    ['a short digest', `{"hashes":{"sha256":"${b64(sha256.subarray(1))}"},"length":1}`],
    [
      'non-canonical padding bits',
      `{"hashes":{"sha256":"${b64(sha256).slice(0, 42)}B="},"length":1}`,
    ],
    ['text after it', `{"hashes":{"sha256":"${b64(sha256)}"},"length":1},`],
  ])('leaves %s to the JSON reader (undefined)', (_what, text) => {
    expect(FileMeta.fromCommonText(text)).toBeUndefined();
  });
});
