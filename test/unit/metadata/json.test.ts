/**
 * Proves the strict JSON reader reads exactly what Go's decoder reads and refuses every
 * input two readers could see differently: escapes and surrogate pairs decode as JSON
 * defines, lone surrogates (escaped or raw), control characters, invalid UTF-8, a BOM,
 * duplicate members (also when spelled with escapes) and nesting beyond MAX_JSON_DEPTH
 * are typed errors; numbers follow the JSON grammar, and the metadata mode refuses
 * fractions and exponents; a member named `__proto__` is plain data and never touches a
 * prototype.
 */
import { isNotaryHsmError } from '../../../src/errors';
import {
  decodeUtf8,
  isJsonObject,
  MAX_JSON_DEPTH,
  parseJson,
  setMember,
  type JsonObject,
  type JsonValue,
} from '../../../src/metadata/json';
import { nested } from '../../helpers/mutations';

const obj = (v: JsonValue): JsonObject => {
  if (!isJsonObject(v)) throw new Error('not an object');
  return v;
};

describe('values', () => {
  it.each<[string, JsonValue]>([
    ['null', null],
    ['true', true],
    ['false', false],
    ['0', 0],
    ['"x"', 'x'],
    ['[]', []],
    ['{}', {}],
    [' \t\r\n[1, {"a" : [true]} ]\n', [1, { a: [true] }]],
  ])('%j parses like JSON.parse', (text, value) => {
    expect(parseJson(text)).toEqual(value);
    expect(parseJson(Buffer.from(text))).toEqual(JSON.parse(text));
  });

  it.each([
    '',
    '   ',
    'tru',
    'True',
    'nul',
    'undefined',
    "'x'",
    '[1,]',
    '{"a":1,}',
    '{"a" 1}',
    '{a:1}',
    '{"a":1 "b":2}',
    '[1 2]',
    '[',
    '{"a":',
    '"abc',
    '/* c */ 1',
    '1 // c',
    '\f1',
    '\u00a01',
    '{} {}',
  ])('%j is JSON_INVALID', (text) => {
    expect(() => parseJson(text)).toThrowWithCode('JSON_INVALID');
  });

  it('reports the offset of a syntax error', () => {
    try {
      parseJson('{"a":1,,}');
      throw new Error('no error');
    } catch (err) {
      expect(isNotaryHsmError(err, 'JSON_INVALID')).toBe(true);
      expect((err as { details: { offset: number } }).details.offset).toBe(7);
    }
  });
});

describe('strings and escapes', () => {
  it.each<[string, string]>([
    ['"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\/\b\f\n\r\t'],
    ['"\\u0041\\u00e9\\u00E9"', 'Aéé'],
    ['"\\u003c\\u0026\\u003e"', '<&>'],
    ['"\\u2028\\u2029"', '\u2028\u2029'],
    ['"\\ud83d\\ude00"', '😀'],
    ['"\\uD83D\\uDE00"', '😀'],
    ['"😀é\u2028"', '😀é\u2028'],
    ['"\\u0000"', '\u0000'],
    ['"\u007f"', '\u007f'],
    ['"\\uffff\\ue000"', '\uffff\ue000'],
  ])('%s decodes to the same string as JSON.parse', (text, expected) => {
    expect(parseJson(text)).toBe(expected);
    expect(parseJson(Buffer.from(text, 'utf8'))).toBe(expected);
    expect(JSON.parse(text)).toBe(expected);
  });

  it.each([
    ['"\\ud800"', 'lone high surrogate at the end'],
    ['"\\ud800x"', 'high surrogate then a character'],
    ['"\\ud800\\u0041"', 'high surrogate then a non-surrogate escape'],
    ['"\\ud800\\ud800"', 'two high surrogates'],
    ['"\\udc00"', 'lone low surrogate'],
    ['"\\ude00\\ud83d"', 'reversed pair'],
    ['"\\ud800\\n"', 'high surrogate then another escape'],
    ['"\\x41"', 'unknown escape'],
    ['"\\\'"', 'escaped single quote'],
    ['"\\U0041"', 'uppercase U'],
    ['"\\u41"', 'short \\u'],
    ['"\\u00G1"', 'non-hex \\u'],
    ['"\\', 'backslash at the end'],
    ['"a\u0000b"', 'raw NUL'],
    ['"a\u001fb"', 'raw unit separator'],
    ['"a\tb"', 'raw tab'],
    ['"a\nb"', 'raw newline'],
  ])('%s (%s) is JSON_INVALID', (text) => {
    expect(() => parseJson(text)).toThrowWithCode('JSON_INVALID');
    expect(() => parseJson(Buffer.from(text, 'utf8'))).toThrowWithCode('JSON_INVALID');
  });

  it.each([
    ['["\ud800","]', 'a raw high surrogate before the closing quote'],
    ['"\ud800"', 'a lone raw high surrogate'],
    ['"\udc00"', 'a lone raw low surrogate'],
    ['"\ude00\ud83d"', 'a reversed raw pair'],
  ])('string input with %s (%s) is JSON_INVALID', (text) => {
    expect(() => parseJson(text)).toThrowWithCode('JSON_INVALID');
  });

  it('a raw surrogate pair in string input is one character', () => {
    expect(parseJson('["\ud83d\ude00","x"]')).toEqual(['😀', 'x']);
  });
});

describe('UTF-8', () => {
  it.each<[string, number[]]>([
    ['0xff', [0x22, 0xff, 0x22]],
    ['0xfe', [0x22, 0xfe, 0x22]],
    ['overlong "/"', [0x22, 0xc0, 0xaf, 0x22]],
    ['overlong NUL', [0x22, 0xc0, 0x80, 0x22]],
    ['encoded surrogate', [0x22, 0xed, 0xa0, 0x80, 0x22]],
    ['above U+10FFFF', [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]],
    ['truncated sequence', [0x22, 0xe2, 0x82, 0x22]],
    ['lone continuation byte', [0x22, 0x80, 0x22]],
    ['Latin-1 é', [0x22, 0xe9, 0x22]],
  ])('%s is JSON_INVALID', (_name, bytes) => {
    expect(() => parseJson(Uint8Array.from(bytes))).toThrowWithCode('JSON_INVALID');
    expect(() => decodeUtf8(Uint8Array.from(bytes))).toThrowWithCode('JSON_INVALID');
  });

  it('a byte-order mark is refused, in bytes and in text', () => {
    expect(() => parseJson(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]))).toThrowWithCode(
      'JSON_INVALID',
    );
    expect(() => parseJson('\ufeff{}')).toThrowWithCode('JSON_INVALID');
  });

  it('UTF-16 input is refused', () => {
    expect(() => parseJson(Buffer.from('{"a":1}', 'utf16le'))).toThrowWithCode('JSON_INVALID');
  });

  it('valid multi-byte UTF-8 decodes to the same characters', () => {
    const text = '{"é":"😀","\u2028":"中"}';
    expect(parseJson(Buffer.from(text, 'utf8'))).toEqual({ é: '😀', '\u2028': '中' });
    expect(decodeUtf8(Buffer.from('😀', 'utf8'))).toBe('😀');
  });
});

describe('numbers', () => {
  it.each<[string, number]>([
    ['0', 0],
    ['-0', -0],
    ['7', 7],
    ['-12', -12],
    ['1.5', 1.5],
    ['-0.25', -0.25],
    ['1e3', 1000],
    ['1E+3', 1000],
    ['25e-1', 2.5],
    ['9007199254740993', 9007199254740992],
    ['1e400', Infinity],
  ])('%s reads as %d', (text, value) => {
    expect(parseJson(text)).toBe(value);
    expect(Object.is(parseJson(text), JSON.parse(text))).toBe(true);
  });

  it.each([
    '01',
    '-01',
    '00',
    '1.',
    '.5',
    '+1',
    '-',
    '1e',
    '1e+',
    '0x10',
    'NaN',
    'Infinity',
    '-Infinity',
    '1_000',
    '١',
  ])('%s is JSON_INVALID', (text) => {
    expect(() => parseJson(text)).toThrowWithCode('JSON_INVALID');
  });

  it.each(['1.0', '2.5', '1e0', '1E2', '1e400', '-0.0', '0e0', '[1,{"a":2.0}]'])(
    'integersOnly refuses %s (Go cannot decode it into an int, and 2.0 is not 2 on the wire)',
    (text) => {
      expect(() => parseJson(text, { integersOnly: true })).toThrowWithCode('JSON_INVALID');
      expect(() => parseJson(text)).not.toThrow();
    },
  );

  it.each<[string, number]>([
    ['0', 0],
    ['-7', -7],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
    ['99999999999999999999', 1e20],
  ])('integersOnly accepts the integer literal %s (range checks come later)', (text, value) => {
    expect(parseJson(text, { integersOnly: true })).toBe(value);
  });
});

describe('duplicate members', () => {
  it.each([
    '{"a":1,"a":1}',
    '{"a":1,"b":2,"a":3}',
    '{"x":{"a":1,"a":2}}',
    '[{"a":[{"b":1,"b":1}]}]',
    '{"a":1,"\\u0061":2}',
    '{"é":1,"\\u00e9":2}',
    '{"😀":1,"\\ud83d\\ude00":2}',
    '{"__proto__":1,"__proto__":2}',
    '{"constructor":1,"constructor":1}',
    '{"":1,"":2}',
  ])('%s is JSON_DUPLICATE_KEY', (text) => {
    expect(() => parseJson(text)).toThrowWithCode('JSON_DUPLICATE_KEY');
  });

  it('names the member and its offset', () => {
    try {
      parseJson('{"ab":1, "ab":2}');
      throw new Error('no error');
    } catch (err) {
      expect(isNotaryHsmError(err, 'JSON_DUPLICATE_KEY')).toBe(true);
      expect((err as { details: unknown }).details).toEqual({ offset: 9, member: 'ab' });
    }
  });

  it('members differing only in case or Unicode normalisation are distinct', () => {
    expect(Object.keys(obj(parseJson('{"a":1,"A":2}')))).toEqual(['a', 'A']);
    expect(Object.keys(obj(parseJson('{"é":1,"e\u0301":2}')))).toHaveLength(2);
  });

  it('the same name in different objects is fine', () => {
    expect(parseJson('{"a":{"a":{"a":1}},"b":{"a":2}}')).toEqual({
      a: { a: { a: 1 } },
      b: { a: 2 },
    });
  });
});

describe('__proto__ and other Object.prototype names', () => {
  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });

  it('a __proto__ member is an own data member and leaves the prototype alone', () => {
    const v = obj(parseJson('{"__proto__":{"polluted":true},"a":1}'));
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__', 'a']);
    expect(Object.prototype.hasOwnProperty.call(v, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(v, '__proto__')?.value).toEqual({ polluted: true });
    expect((v as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('nested and in arrays too', () => {
    const v = parseJson('[{"x":{"__proto__":{"polluted":1}}}]') as JsonValue[];
    const inner = obj(obj(v[0] as JsonValue).x as JsonValue);
    expect(Object.getPrototypeOf(inner)).toBe(Object.prototype);
    expect(Object.keys(inner)).toEqual(['__proto__']);
  });

  it('constructor, prototype, toString and hasOwnProperty members are plain data', () => {
    const v = obj(
      parseJson('{"constructor":{"prototype":{"polluted":1}},"toString":1,"hasOwnProperty":2}'),
    );
    expect(Object.keys(v)).toEqual(['constructor', 'toString', 'hasOwnProperty']);
    expect(Object.getOwnPropertyDescriptor(v, 'toString')?.value).toBe(1);
    expect(Object.prototype.hasOwnProperty.call(v, 'hasOwnProperty')).toBe(true);
  });

  it('a __proto__ member survives a JSON round trip (a setter would have dropped it)', () => {
    const text = '{"__proto__":{"a":1},"b":2}';
    expect(JSON.stringify(parseJson(text))).toBe(text);
  });

  it('setMember defines __proto__ as data and assigns other names normally', () => {
    const o: JsonObject = {};
    setMember(o, '__proto__', { polluted: 1 });
    setMember(o, 'x', 2);
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(['__proto__', 'x']);
  });
});

describe('nesting depth', () => {
  it(`a value at depth ${MAX_JSON_DEPTH} is accepted; one level deeper is JSON_TOO_DEEP`, () => {
    expect(() => parseJson(nested(MAX_JSON_DEPTH))).not.toThrow();
    expect(() => parseJson(nested(MAX_JSON_DEPTH + 1))).toThrowWithCode('JSON_TOO_DEEP');
    const objects = (n: number): string => '{"a":'.repeat(n) + '0' + '}'.repeat(n);
    expect(() => parseJson(objects(MAX_JSON_DEPTH))).not.toThrow();
    expect(() => parseJson(objects(MAX_JSON_DEPTH + 1))).toThrowWithCode('JSON_TOO_DEEP');
  });

  it('pathological nesting fails with a typed error, not a stack overflow', () => {
    expect(() => parseJson('['.repeat(1_000_000))).toThrowWithCode('JSON_TOO_DEEP');
    expect(() => parseJson('{"a":'.repeat(200_000))).toThrowWithCode('JSON_TOO_DEEP');
  });

  it('depth counts nesting, not siblings', () => {
    const wide = '[' + Array.from({ length: 10_000 }, () => '[]').join(',') + ']';
    expect((parseJson(wide) as JsonValue[]).length).toBe(10_000);
  });
});

describe('large documents (read by JSON.parse after a one-pass check)', () => {
  const big = (extra: string): string => {
    const members = Array.from({ length: 10_000 }, (_, i) => `"v${i}":{"length":${i}}`);
    return `{"targets":{${members.join(',')}${extra}}}`;
  };

  it('a duplicate among 10,000 members is JSON_DUPLICATE_KEY', () => {
    expect(() => parseJson(big(',"v9999":{"length":1}'))).toThrowWithCode('JSON_DUPLICATE_KEY');
  });

  it('a duplicate deep inside the last member is JSON_DUPLICATE_KEY', () => {
    expect(() => parseJson(big(',"x":{"a":{"b":1,"b":1}}'))).toThrowWithCode('JSON_DUPLICATE_KEY');
  });

  it('a fraction or exponent among 10,000 integers is refused when only integers are allowed', () => {
    for (const n of ['1.0', '1e2', '0E0', '-5.5']) {
      expect(() => parseJson(big(`,"x":${n}`), { integersOnly: true })).toThrowWithCode(
        'JSON_INVALID',
      );
    }
    expect(obj(obj(parseJson(big(',"x":1e2'))).targets as JsonValue).x).toBe(100);
  });

  it('colons, brackets, quotes and the letter e inside strings are data', () => {
    const text = '{"a:b":"{[:]}\\"x:e.1","c":["1e5:"],"true":true}';
    expect(parseJson(text, { integersOnly: true })).toEqual(JSON.parse(text));
  });

  it('gives what JSON.parse gives for a document it accepts', () => {
    const text = big(',"__proto__":{"length":1},"é😀":{"length":2}');
    const v = obj(obj(parseJson(text, { integersOnly: true })).targets as JsonValue);
    expect(v).toEqual((JSON.parse(text) as { targets: unknown }).targets);
    expect(Object.keys(v)).toHaveLength(10_002);
    expect(Object.prototype.hasOwnProperty.call(v, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
  });
});
