/**
 * A sha256 in hex re-encoded where it lies in a text (hex-digest.ts) must spell exactly
 * what Node's own hex and base64 codecs make of the same digits, and refuse anything that
 * is not 64 hex digits there, whatever surrounds them; and a target's whole canonical text
 * made from them must be the one its JSON has.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { commonSha256Text, hexDigestBase64 } from '../../../src/metadata/hex-digest';
import { fuzzRuns, fuzzSeed } from '../../helpers/fuzz-seed';

describe('hexDigestBase64', () => {
  it('spells what Buffer makes of the same digits, lower or upper case, wherever they lie', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.string({ maxLength: 5 }),
        fc.string({ maxLength: 5 }),
        fc.boolean(),
        (bytes, before, after, upper) => {
          const digest = Buffer.from(bytes);
          const hex = upper ? digest.toString('hex').toUpperCase() : digest.toString('hex');
          expect(hexDigestBase64(`${before}${hex}${after}`, before.length)).toBe(
            digest.toString('base64'),
          );
        },
      ),
      { seed: fuzzSeed('hex-digest', 1206), numRuns: fuzzRuns('FUZZ_HEX_DIGEST_RUNS', 1000) },
    );
    for (const fill of [0x00, 0xff, 0x0f, 0xf0]) {
      const digest = Buffer.alloc(32, fill);
      expect(hexDigestBase64(digest.toString('hex'), 0)).toBe(digest.toString('base64'));
    }
  });

  it('refuses a digit that is not hex at any place, and digits that run past the text', () => {
    const hex = randomBytes(32).toString('hex');
    for (let i = 0; i < 64; i++) {
      for (const bad of ['g', 'G', ' ', ':', '\u00e9', '\u0660', '/', '@', '`']) {
        expect(hexDigestBase64(hex.slice(0, i) + bad + hex.slice(i + 1), 0)).toBeUndefined();
      }
    }
    expect(hexDigestBase64(hex.slice(1), 0)).toBeUndefined();
    expect(hexDigestBase64(`x${hex}`, 2)).toBeUndefined();
    expect(hexDigestBase64(hex, -1)).toBeUndefined();
    expect(hexDigestBase64(`${hex}`, 1)).toBeUndefined();
  });

  it('writes a target’s canonical text as its JSON is written, for any safe length', () => {
    const lengths = fc.oneof(
      fc.integer({ min: 0, max: 2 ** 53 - 1 }),
      fc.constantFrom(0, 9, 10, 99, 100, 2 ** 31, 2 ** 53 - 1, 1e15, 1e15 - 1),
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), lengths, (bytes, length) => {
        const digest = Buffer.from(bytes);
        const want = JSON.stringify({ hashes: { sha256: digest.toString('base64') }, length });
        expect(commonSha256Text(`x:${digest.toString('hex')}:y`, 2, length)).toBe(want);
      }),
      { seed: fuzzSeed('hex-digest-text', 612), numRuns: fuzzRuns('FUZZ_HEX_DIGEST_RUNS', 1000) },
    );
    const hex = 'ab'.repeat(32);
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Infinity]) {
      expect(commonSha256Text(hex, 0, bad)).toBeUndefined();
    }
    expect(commonSha256Text(`${hex.slice(1)}g`, 0, 1)).toBeUndefined();
  });
});
