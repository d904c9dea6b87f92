/**
 * Proves canonical JSON is what docker/go's canonical encoder writes and what every
 * Notary signature covers: object members sorted by the UTF-8 bytes of their names
 * (which differs from JavaScript's UTF-16 sort exactly for astral characters against
 * U+E000–U+FFFF), no whitespace, only `"` and `\` escaped (`<>&`, U+2028, non-ASCII and
 * `/` raw), integers only, and control characters or lone surrogates refused rather than
 * guessed. A seeded property check compares the sort against a byte-wise reference.
 */
import {
  allPlain,
  canonicalBytes,
  canonicalJson,
  canonicalString,
  compareUtf8,
  isRepresentable,
} from '../../../src/metadata/canonical';
import type { JsonObject, JsonValue } from '../../../src/metadata/json';
import { prng } from '../../helpers/mutations';

const byBytes = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

describe('compareUtf8', () => {
  it('orders an astral character after U+E000–U+FFFF, unlike the UTF-16 default sort', () => {
    const astral = '\u{1F600}'; // UTF-16 D83D DE00, UTF-8 F0 9F 98 80
    for (const bmp of ['\uE000', '\uFB01', '\uFFFD', '\uFFFF']) {
      expect(compareUtf8(bmp, astral)).toBeLessThan(0);
      expect(compareUtf8(astral, bmp)).toBeGreaterThan(0);
      expect([astral, bmp].sort()).toEqual([astral, bmp]); // the default gets it wrong
      expect([astral, bmp].sort(compareUtf8)).toEqual([bmp, astral]);
    }
  });

  it('agrees with the default sort below the surrogate range', () => {
    expect(['b', 'B', 'a', '', 'aa', 'é', '\u0800', '\uD7FF'].sort(compareUtf8)).toEqual([
      '',
      'B',
      'a',
      'aa',
      'b',
      'é',
      '\u0800',
      '\uD7FF',
    ]);
  });

  it('orders a prefix first and equal strings as equal', () => {
    expect(compareUtf8('targets', 'targets/ci')).toBeLessThan(0);
    expect(compareUtf8('targets/ci', 'targets')).toBeGreaterThan(0);
    expect(compareUtf8('😀a', '😀a')).toBe(0);
    expect(compareUtf8('😀', '😀a')).toBeLessThan(0);
  });

  it('orders two astral characters by code point', () => {
    expect(compareUtf8('\u{10000}', '\u{10FFFF}')).toBeLessThan(0);
    expect(compareUtf8('\u{1F601}', '\u{1F600}')).toBeGreaterThan(0);
  });

  it('matches a UTF-8 byte comparison on 3,000 seeded random pairs', () => {
    const rand = prng(7);
    const pool = ['a', 'Z', '/', 'é', '\u2028', '\uE000', '\uFFFF', '\u{1F600}', '\u{10000}', '中'];
    const word = (): string =>
      Array.from(
        { length: Math.floor(rand() * 4) },
        () => pool[Math.floor(rand() * pool.length)],
      ).join('');
    for (let i = 0; i < 3000; i++) {
      const a = word();
      const b = word();
      expect(Math.sign(compareUtf8(a, b))).toBe(Math.sign(byBytes(a, b)));
    }
  });
});

describe('canonicalJson', () => {
  it('sorts members by UTF-8 bytes at every depth and keeps array order', () => {
    const value: JsonObject = {
      '\u{1F600}': 1,
      '\uE000': 2,
      b: [{ z: 1, a: 2 }, 3],
      B: null,
      a: { y: true, x: false },
      '': 'empty',
    };
    expect(canonicalJson(value)).toBe(
      '{"":"empty","B":null,"a":{"x":false,"y":true},"b":[{"a":2,"z":1},3],"\uE000":2,"\u{1F600}":1}',
    );
  });

  it('sorts Notary role names as Go does', () => {
    const meta = { targets: 1, 'targets/releases': 2, root: 3, 'targets/ci': 4, snapshot: 5 };
    expect(canonicalJson(meta)).toBe(
      '{"root":3,"snapshot":5,"targets":1,"targets/ci":4,"targets/releases":2}',
    );
  });

  it('writes no whitespace', () => {
    expect(canonicalJson({ a: [1, 2, { b: [] }], c: {} })).toBe('{"a":[1,2,{"b":[]}],"c":{}}');
  });

  it('escapes only " and \\', () => {
    const s = 'a"b\\c<d>e&f/g\u2028h\u2029ié😀\u007f\u00a0';
    expect(canonicalString(s)).toBe('"a\\"b\\\\c<d>e&f/g\u2028h\u2029ié😀\u007f\u00a0"');
    expect(canonicalJson({ [s]: s })).toBe(
      '{' + canonicalString(s) + ':' + canonicalString(s) + '}',
    );
  });

  it('writes non-ASCII as raw UTF-8 bytes', () => {
    expect(canonicalBytes('é😀')).toEqual(
      Buffer.from([0x22, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 0x22]),
    );
    expect(canonicalBytes({ '<': '&' }).toString('utf8')).toBe('{"<":"&"}');
  });

  it.each(['\u0000', 'a\nb', '\t', '\u001f', 'x\ry'])(
    'refuses the control character in %j (Go would write it raw, producing invalid JSON)',
    (s) => {
      expect(() => canonicalString(s)).toThrowWithCode('CANONICAL_UNREPRESENTABLE');
      expect(() => canonicalJson({ a: s })).toThrowWithCode('CANONICAL_UNREPRESENTABLE');
      expect(() => canonicalJson({ [s]: 1 })).toThrowWithCode('CANONICAL_UNREPRESENTABLE');
    },
  );

  it.each(['\uD800', 'a\uDBFFb', '\uDC00', '\uDE00\uD83D', 'x\uDFFF'])(
    'refuses the lone surrogate in %j',
    (s) => {
      expect(() => canonicalString(s)).toThrowWithCode('CANONICAL_UNREPRESENTABLE');
      expect(() => canonicalJson([s])).toThrowWithCode('CANONICAL_UNREPRESENTABLE');
    },
  );

  it.each<[number, string]>([
    [0, '0'],
    [-0, '0'],
    [42, '42'],
    [-42, '-42'],
    [Number.MAX_SAFE_INTEGER, '9007199254740991'],
    [Number.MIN_SAFE_INTEGER, '-9007199254740991'],
    [1e15, '1000000000000000'],
  ])('writes the integer %d as %s', (n, text) => {
    expect(canonicalJson(n)).toBe(text);
  });

  it.each([1.5, -0.1, 2 ** 53, -(2 ** 53), 1e21, NaN, Infinity, -Infinity])(
    'refuses the number %d',
    (n) => {
      expect(() => canonicalJson({ version: n })).toThrowWithCode('CANONICAL_UNREPRESENTABLE');
    },
  );

  it('writes literals as JSON literals', () => {
    expect(canonicalJson([null, true, false])).toBe('[null,true,false]');
  });

  it('a __proto__ member is written like any other', () => {
    const o: JsonObject = {};
    Object.defineProperty(o, '__proto__', {
      value: 1,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    o.a = 2;
    expect(canonicalJson(o)).toBe('{"__proto__":1,"a":2}');
  });

  it('canonicalBytes is the UTF-8 of canonicalJson', () => {
    const v: JsonValue = { b: 'é', a: [1] };
    expect(canonicalBytes(v).equals(Buffer.from(canonicalJson(v), 'utf8'))).toBe(true);
  });

  it('seeded random documents: output parses back to the input, with members in byte order', () => {
    const rand = prng(99);
    const names = ['a', 'b', 'B', '_type', 'é', '\uE000', '\u{1F600}', '<', '"', '\\', ''];
    const gen = (depth: number): JsonValue => {
      const r = rand();
      if (depth > 3 || r < 0.3) {
        return [null, true, 7, -3, 'x<&>', '\u2028', '😀'][Math.floor(rand() * 7)] as JsonValue;
      }
      if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => gen(depth + 1));
      const o: JsonObject = {};
      for (let i = 0; i < 5; i++)
        o[names[Math.floor(rand() * names.length)] as string] = gen(depth + 1);
      return o;
    };
    // Independent reference: byte-sorted members, JSON.stringify for scalars (no control
    // characters are generated, so its escaping equals canonical escaping here).
    const reference = (v: JsonValue): string => {
      if (Array.isArray(v)) return '[' + v.map(reference).join(',') + ']';
      if (typeof v === 'object' && v !== null) {
        const o = v;
        return (
          '{' +
          Object.keys(o)
            .sort(byBytes)
            .map((k) => JSON.stringify(k) + ':' + reference(o[k] as JsonValue))
            .join(',') +
          '}'
        );
      }
      return JSON.stringify(v);
    };
    const checkOrder = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(checkOrder);
      else if (typeof v === 'object' && v !== null) {
        const keys = Object.keys(v);
        expect(keys).toEqual([...keys].sort(byBytes));
        keys.forEach((k) => checkOrder((v as Record<string, unknown>)[k]));
      }
    };
    for (let i = 0; i < 300; i++) {
      const doc = gen(0);
      const text = canonicalJson(doc);
      expect(JSON.parse(text)).toEqual(doc);
      expect(text).toBe(reference(doc));
      expect(canonicalJson(JSON.parse(text) as JsonValue)).toBe(text);
      checkOrder(JSON.parse(text));
    }
  });

  describe('members already in canonical order (written by JSON.stringify)', () => {
    it('writes the same text as for the same value in any member order', () => {
      const rand = prng(7);
      const names = ['a', 'b', 'B', '_type', 'é', '<', '"', '\\', '', 'tag-1', 'tag-10', 'tag-9'];
      const shuffled = (v: JsonValue): JsonValue => {
        if (Array.isArray(v)) return v.map(shuffled);
        if (typeof v !== 'object' || v === null) return v;
        const keys = Object.keys(v).sort(() => rand() - 0.5);
        const o: JsonObject = {};
        for (const k of keys) o[k] = shuffled(v[k] as JsonValue);
        return o;
      };
      const gen = (depth: number): JsonValue => {
        const r = rand();
        if (depth > 3 || r < 0.3)
          return [null, false, 0, -12, 'x<&>', '\u2028', 'é'][Math.floor(rand() * 7)] as JsonValue;
        if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => gen(depth + 1));
        const o: JsonObject = {};
        for (let i = 0; i < 6; i++)
          o[names[Math.floor(rand() * names.length)] as string] = gen(depth + 1);
        return o;
      };
      for (let i = 0; i < 300; i++) {
        const doc = gen(0);
        const text = canonicalJson(shuffled(doc));
        const inOrder = JSON.parse(text) as JsonValue; // members now in canonical order
        expect(JSON.stringify(inOrder)).toBe(text);
        expect(canonicalJson(inOrder)).toBe(text);
      }
    });

    it('sorts integer-like names by bytes, although objects list them numerically', () => {
      const o: JsonObject = { 9: 'a', 10: 'b', x: 'c' };
      expect(Object.keys(o)).toEqual(['9', '10', 'x']);
      expect(canonicalJson(o)).toBe('{"10":"b","9":"a","x":"c"}');
    });

    it('orders an astral name after U+E000 although UTF-16 order puts it first', () => {
      const o: JsonObject = {};
      o['\uE000'] = 1;
      o['\u{1F600}'] = 2;
      expect(canonicalJson(o)).toBe('{"\uE000":1,"\u{1F600}":2}');
    });

    it.each([
      ['a number beyond 2^53', { a: 2 ** 53 }],
      ['a fraction', { a: 1.5 }],
      ['a control character', { a: 'x\u0001' }],
      ['a lone surrogate', { a: '\ud800' }],
      ['a control character in a name', { 'a\n': 1 }],
    ] as [string, JsonValue][])('still refuses %s in sorted members', (_what, v) => {
      expect(() => canonicalJson(v)).toThrowWithCode('CANONICAL_UNREPRESENTABLE');
    });

    it('writes -0 as 0 and keeps a paired surrogate in a value', () => {
      expect(canonicalJson({ a: -0, b: '\u{1F600}' })).toBe('{"a":0,"b":"\u{1F600}"}');
    });
  });

  describe('allPlain (many names in one test)', () => {
    it('is true only when no name holds a control character or any surrogate', () => {
      expect(allPlain(['a', 'b/c', 'é', ''])).toBe(true);
      expect(allPlain([])).toBe(true);
      for (const bad of ['a\u0001', 'x\n', '\u{1F600}', 'lone\ud800', '\udc00']) {
        expect(allPlain(['ok', bad])).toBe(false);
      }
    });

    it('never joins two halves of a pair from two names into a pair', () => {
      // A high half ending one name and a low half starting the next are two lone surrogates.
      expect(allPlain(['a\ud83d', '\ude00b'])).toBe(false);
      expect(isRepresentable('a\ud83d')).toBe(false);
    });

    it('agrees with isRepresentable on generated names whenever it says true', () => {
      const rnd = prng(1206);
      const int = (n: number): number => Math.floor(rnd() * n);
      const alphabet = [
        'a',
        'Z',
        '0',
        ' ',
        '\u0000',
        '\u001f',
        '\ud800',
        '\udfff',
        'é',
        '\u{1F600}',
      ];
      for (let run = 0; run < 500; run++) {
        const names = Array.from({ length: 1 + int(4) }, () =>
          Array.from({ length: int(4) }, () => alphabet[int(alphabet.length)]).join(''),
        );
        if (allPlain(names)) expect(names.every(isRepresentable)).toBe(true);
        // eslint-disable-next-line no-control-regex -- exactly the characters it looks for
        else expect(names.some((n) => /[\u0000-\u001f\ud800-\udfff]/.test(n))).toBe(true);
      }
    });
  });
});
