/**
 * Proves that the bytes parseJsonKeeping keeps for a member are that member's canonical
 * bytes, whenever it keeps any: for every generated value, written canonically or with a
 * change that makes the text non-canonical (whitespace, member order, escapes, `-0`, long
 * numbers, fractions), the parsed value is the strict reader's and `kept`, when present,
 * equals canonicalBytes of the member; and that a canonical text is in fact kept, so the
 * fast path is taken where it should be. Duplicates inside or beside the kept member are
 * still refused.
 */
import fc from 'fast-check';
import { isNotaryHsmError } from '../../../src/errors';
import { canonicalBytes, canonicalJson } from '../../../src/metadata/canonical';
import {
  isJsonObject,
  jsonEqual,
  parseJson,
  parseJsonKeeping,
  type Defer,
  type JsonValue,
} from '../../../src/metadata/json';
import { parseMetadata, serialize } from '../../../src/metadata/signed';
import { fuzzRuns, fuzzSeed } from '../../helpers/fuzz-seed';
import { vector } from '../../helpers/vectors';

const wrap = (signed: string, before = '', after = ',"signatures":[]'): string =>
  `{${before}"signed":${signed}${after}}`;

function keptOf(text: string, asBytes = true): Buffer | undefined {
  return parseJsonKeeping(asBytes ? Buffer.from(text, 'utf8') : text, 'signed', {
    integersOnly: true,
  }).kept;
}

describe('a canonical member is kept as it was written', () => {
  it.each<[string, string]>([
    ['an empty object', '{}'],
    ['a string', '"x"'],
    ['nested objects and arrays', '{"a":[1,-2,{"b":null,"c":true}],"d":{"e":"f"}}'],
    ['integer-like names in byte order', '{"10":1,"9":2}'],
    ['escaped quote and backslash', '{"a":"say \\"hi\\" \\\\ bye"}'],
    ['non-ASCII text', '{"naïve":"日本","z":"\u2028"}'],
    ['15-digit integers', '{"a":999999999999999,"b":-999999999999999}'],
    ['a member named __proto__', '{"__proto__":{"x":1},"a":1}'],
  ])('%s', (_name, signed) => {
    for (const text of [
      wrap(signed),
      wrap(signed, '"a":"é",'),
      wrap(signed, '', ',"signatures":[],"z":"ü"'),
    ]) {
      const value = parseJson(text);
      if (!isJsonObject(value)) throw new Error('not an object');
      const expected = canonicalBytes(value.signed as JsonValue);
      expect(expected.toString('utf8')).toBe(signed);
      expect(keptOf(text)).toEqual(expected);
      expect(keptOf(text, false)).toEqual(expected);
    }
  });

  it('a file Notary wrote: the message is the file’s own text of signed', () => {
    const file = vector('final', 'targets');
    const text = file.toString('utf8');
    const kept = keptOf(text);
    expect(kept).toBeDefined();
    expect(text).toContain(`"signed":${(kept as Buffer).toString('utf8')}`);
    expect(parseMetadata('targets', file).message).toEqual(kept);
  });
});

describe('a member that is not written canonically is not kept', () => {
  it.each<[string, string]>([
    ['whitespace', '{"a": 1}'],
    ['whitespace after the colon', ' {"a":1}'],
    ['members out of order', '{"b":1,"a":2}'],
    ['integer-like names in numeric order', '{"9":1,"10":2}'],
    ['an escaped slash', '{"a":"x\\/y"}'],
    ['an escaped newline', '{"a":"x\\ny"}'],
    ['an escape in a member name', '{"a\\"":1}'],
    ['minus zero', '{"a":-0}'],
    ['a 16-digit integer', '{"a":1234567890123456}'],
  ])('%s', (_name, signed) => {
    const text = wrap(signed);
    expect(keptOf(text)).toBeUndefined();
    // …and the message is then encoded, as before.
    const value = parseJson(text);
    expect(
      isJsonObject(value) && jsonEqual(value.signed as JsonValue, JSON.parse(signed) as JsonValue),
    ).toBe(true);
  });

  it('a fraction: still not an integer (the strict reader refuses it)', () => {
    expect(() => keptOf(wrap('{"a":1.5}'))).toThrowWithCode('JSON_INVALID');
    expect(parseJsonKeeping(wrap('{"a":1.5}'), 'signed').kept).toBeUndefined();
  });

  it('no member of that name, or not at the top level', () => {
    expect(keptOf('{"signatures":[]}')).toBeUndefined();
    expect(keptOf('{"x":{"signed":{}}}')).toBeUndefined();
    expect(keptOf('[{"signed":{}}]')).toBeUndefined();
  });
});

describe('duplicates are still refused', () => {
  it.each([
    ['inside the kept member', wrap('{"a":1,"a":2}')],
    ['inside, out of order', wrap('{"b":1,"a":2,"b":3}')],
    ['beside it', '{"signatures":[],"signed":{},"signatures":[]}'],
    ['the kept member twice', '{"signed":{},"signed":{}}'],
    ['deeper beside it', '{"signed":{},"x":{"y":1,"y":2}}'],
  ])('%s', (_name, text) => {
    expect(() => keptOf(text)).toThrowWithCode('JSON_DUPLICATE_KEY');
  });
});

// Values as metadata holds them, and then some: names and strings from a small alphabet
// that includes what canonical text treats specially.
const CHARS = ['a', 'b', 'Z', '0', '9', '"', '\\', '/', '\n', 'é', '\u2028', '<', '😀', ' '];
const str = fc.array(fc.constantFrom(...CHARS), { maxLength: 4 }).map((cs) => cs.join(''));
const num = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(0, -0, 2 ** 53 - 1, 1e15 - 1, 1e15, -(1e15 - 1)),
);
const value: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    str,
    num,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(str, tie('v'), { maxKeys: 4 }),
  ),
})).v;

/** Whether a member name anywhere in `v` is written with an escape (`"` or `\\`). */
function escapedName(v: JsonValue): boolean {
  if (Array.isArray(v)) return v.some(escapedName);
  if (!isJsonObject(v)) return false;
  return Object.entries(v).some(([k, x]) => /["\\]/.test(k) || escapedName(x));
}

/** A text of `v`: canonical, or changed in one of the ways a writer may differ. */
function render(v: JsonValue, how: number): string {
  switch (how) {
    case 0:
      return JSON.stringify(v, null, 1);
    case 1:
      // JSON.stringify keeps insertion order (numeric names first): often not canonical.
      return JSON.stringify(v);
    case 2:
      return JSON.stringify(v).replace(/\//g, '\\/');
    default:
      return canonicalJson(v);
  }
}

describe('generated documents', () => {
  it('kept bytes are always canonicalBytes of the member, and canonical text is kept', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 4 }), fc.boolean(), (v, how, before) => {
        let signed: string;
        try {
          signed = render(v, how);
        } catch (err) {
          // Canonical JSON refuses lone surrogates and control characters: nothing to keep.
          if (isNotaryHsmError(err, 'CANONICAL_UNREPRESENTABLE')) return;
          throw err;
        }
        const text = wrap(signed, before ? '"a":"é",' : '');
        let kept: Buffer | undefined;
        let parsed: JsonValue;
        try {
          ({ kept, value: parsed } = parseJsonKeeping(Buffer.from(text), 'signed'));
        } catch (err) {
          // The strict reader refuses what JSON.parse would read differently (lone
          // surrogates); those never reach canonical text.
          expect(isNotaryHsmError(err)).toBe(true);
          return;
        }
        expect(jsonEqual(parsed, JSON.parse(text) as JsonValue)).toBe(true);
        if (!isJsonObject(parsed)) throw new Error('not an object');
        if (kept !== undefined) expect(kept).toEqual(canonicalBytes(parsed.signed as JsonValue));
        // Canonical text is kept unless it holds a `\u` escape or a surrogate (the fast
        // path leaves those to the strict reader), a 16-digit integer (kept only to 15) or
        // a member name with an escape (not compared in place).
        if (how >= 3 && !/\\u|[\ud800-\udfff]|[0-9]{16}/.test(signed) && !escapedName(v)) {
          expect(kept).toBeDefined();
        }
      }),
      { seed: fuzzSeed('json-kept', 730529114), numRuns: fuzzRuns('FUZZ_KEPT_RUNS', 2000) },
    );
  });

  it('a signed file serialised by the project keeps its message', () => {
    const file = vector('final', 'targets');
    const parsed = parseMetadata('targets', file);
    const again = serialize(parsed.signed, parsed.signatures);
    expect(parseMetadata('targets', again).message).toEqual(parsed.message);
  });
});

describe('a member of the kept one handed over as text (defer)', () => {
  /**
   * A reader that takes the object at `start` when its text is canonical JSON (and refuses
   * the rest, as a reader must), recording the text it took.
   */
  const recorder = (): { texts: string[]; defer: Defer<string> } => {
    const texts: string[] = [];
    const read = (text: string, start: number): { value: string; end: number } | undefined => {
      // The end of the object: brackets counted outside strings.
      let depth = 0;
      let end = -1;
      for (let p = start; p < text.length && end < 0; p++) {
        const c = text[p];
        if (c === '"') {
          for (p++; text[p] !== '"'; p++) if (text[p] === '\\') p++;
        } else if (c === '{' || c === '[') depth++;
        else if ((c === '}' || c === ']') && --depth === 0) end = p + 1;
      }
      if (end < 0) return undefined;
      const span = text.slice(start, end);
      try {
        if (canonicalJson(JSON.parse(span) as JsonValue) !== span) return undefined;
      } catch {
        return undefined;
      }
      texts.push(span);
      return { value: span, end };
    };
    return { texts, defer: { member: 'targets', read } };
  };

  it('generated documents: the text handed over is the member’s canonical text, and the rest parses as before', () => {
    let handedOver = 0;
    fc.assert(
      fc.property(value, value, fc.integer({ min: 0, max: 4 }), (targets, other, how) => {
        let signed: string;
        try {
          signed = render({ a: other, targets: isJsonObject(targets) ? targets : {}, z: 1 }, how);
        } catch (err) {
          if (isNotaryHsmError(err, 'CANONICAL_UNREPRESENTABLE')) return;
          throw err;
        }
        const text = wrap(signed);
        const { texts, defer } = recorder();
        let got: ReturnType<typeof parseJsonKeeping<string>>;
        try {
          got = parseJsonKeeping(text, 'signed', { integersOnly: true, defer });
        } catch (err) {
          expect(isNotaryHsmError(err)).toBe(true);
          expect(() => parseJsonKeeping(text, 'signed', { integersOnly: true })).toThrow();
          return;
        }
        const plain = parseJsonKeeping(text, 'signed', { integersOnly: true });
        // Kept bytes are the canonical bytes; a reader that proved a member canonical may
        // let more be kept than the scan alone (it keeps no escaped name), never less.
        const strictSigned = (plain.value as { signed: JsonValue }).signed;
        if (got.kept !== undefined) expect(got.kept).toEqual(canonicalBytes(strictSigned));
        if (plain.kept !== undefined) expect(got.kept).toEqual(plain.kept);
        if (got.deferred === undefined) {
          expect(jsonEqual(got.value, plain.value)).toBe(true);
          return;
        }
        handedOver++;
        expect(got.kept).toBeDefined();
        const whole = (plain.value as { signed: { targets: JsonValue } }).signed;
        expect(texts).toEqual([canonicalJson(whole.targets)]);
        expect(got.deferred.value).toBe(texts[0]);
        // The parsed value holds an empty object in its place, and is otherwise the same.
        const signedValue = (got.value as { signed: Record<string, JsonValue> }).signed;
        expect(signedValue.targets).toBe(got.deferred.holder);
        expect(got.deferred.holder).toEqual({});
        signedValue.targets = JSON.parse(texts[0] as string) as JsonValue;
        expect(jsonEqual(got.value, plain.value)).toBe(true);
      }),
      { seed: fuzzSeed('json-defer', 1206), numRuns: fuzzRuns('FUZZ_KEPT_RUNS', 1000) },
    );
    expect(handedOver).toBeGreaterThan(0);
  });

  it.each([
    [
      'brackets that close the member early',
      '{"signed":{"targets":{"a":[}],"v":1},"signatures":[]}',
    ],
    ['a member cut short', '{"signed":{"targets":{"a":},"v":1},"signatures":[]}'],
    ['a trailing comma', '{"signed":{"targets":{"a":1,},"v":1},"signatures":[]}'],
  ])('%s: refused as without it', (_what, text) => {
    const { texts, defer } = recorder();
    expect(() => parseJsonKeeping(text, 'signed', { integersOnly: true, defer })).toThrowWithCode(
      'JSON_INVALID',
    );
    expect(texts).toEqual([]);
  });

  it('only where the kept member is canonical, and only its own member of that name', () => {
    for (const text of [
      '{"signed":{"targets":{"a":1}, "v":1},"signatures":[]}',
      '{"signed":{"x":{"targets":{"a":1}}},"signatures":[]}',
      '{"signed":{"targets":[{"a":1}]},"signatures":[]}',
      '{"targets":{"a":1},"signed":{}}',
    ]) {
      const { texts, defer } = recorder();
      const got = parseJsonKeeping(text, 'signed', { integersOnly: true, defer });
      expect(got.deferred).toBeUndefined();
      // Asked only where the kept value was canonical so far (the first text), its answer
      // then dropped.
      expect(texts.length).toBe(text.includes('}, "v"') ? 1 : 0);
      expect(jsonEqual(got.value, JSON.parse(text) as JsonValue)).toBe(true);
    }
  });
});
