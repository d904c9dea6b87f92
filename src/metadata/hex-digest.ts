/**
 * A sha256 digest written as 64 hex digits, re-encoded as the canonical padded base64 a
 * targets file spells it in, read straight from the text it lies in: no slice of the
 * text, no buffer, no call out of JavaScript (10,000 tags from a file make one string
 * each). Every three hex digits are two base64 digits; the 64th digit's four bits make
 * the 43rd with two zero bits, as canonical base64 has them, and `=` the 44th.
 */

/** Each hex digit's value by character code (0–9, a–f, A–F); −1 for any other ASCII. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[0x61 + i] = 10 + i;
  HEX_VALUE[0x41 + i] = 10 + i;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_CODE = Uint8Array.from(BASE64, (c) => c.charCodeAt(0));

/** The base64 digits' character codes, written in place for each digest; the last is `=`. */
const CODES: number[] = new Array<number>(44).fill(0x3d);

function hexValue(code: number): number {
  return code < 0x80 ? (HEX_VALUE[code] as number) : -1;
}

/**
 * The base64 of the 32 bytes that the 64 hex digits at `text[at…]` write, or undefined
 * when those are not 64 hex digits.
 */
export function hexDigestBase64(text: string, at: number): string | undefined {
  if (!(at >= 0 && at + 64 <= text.length)) return undefined;
  let bad = 0;
  for (let g = 0; g < 21; g++) {
    const p = at + 3 * g;
    const a = hexValue(text.charCodeAt(p));
    const b = hexValue(text.charCodeAt(p + 1));
    const c = hexValue(text.charCodeAt(p + 2));
    bad |= a | b | c;
    const twelve = ((a << 8) | (b << 4) | c) & 0xfff;
    CODES[2 * g] = BASE64_CODE[twelve >> 6] as number;
    CODES[2 * g + 1] = BASE64_CODE[twelve & 63] as number;
  }
  const last = hexValue(text.charCodeAt(at + 63));
  bad |= last;
  if (bad < 0) return undefined;
  CODES[42] = BASE64_CODE[last << 2] as number;
  return String.fromCharCode.apply(null, CODES);
}
