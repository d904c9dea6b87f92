/**
 * A sha256 digest written as 64 hex digits, re-encoded as the canonical padded base64 a
 * targets file spells it in, read straight from the text it lies in: no slice of the
 * text, no buffer, no call out of JavaScript; and, for a tag file, the whole canonical
 * text of its target made as one string (10,000 tags make 10,000 strings, not 50,000
 * pieces of them). Every three hex digits are two base64 digits; the 64th digit's four
 * bits make the 43rd with two zero bits, as canonical base64 has them, and `=` the 44th.
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

function hexValue(code: number): number {
  return code < 0x80 ? (HEX_VALUE[code] as number) : -1;
}

/**
 * Writes the 43 base64 digits of the 32 bytes the 64 hex digits at `text[at…]` write into
 * `codes` from `offset` (as character codes); false when those are not 64 hex digits.
 */
function writeDigest(text: string, at: number, codes: number[], offset: number): boolean {
  if (!(at >= 0 && at + 64 <= text.length)) return false;
  let bad = 0;
  for (let g = 0; g < 21; g++) {
    const p = at + 3 * g;
    const a = hexValue(text.charCodeAt(p));
    const b = hexValue(text.charCodeAt(p + 1));
    const c = hexValue(text.charCodeAt(p + 2));
    bad |= a | b | c;
    const twelve = ((a << 8) | (b << 4) | c) & 0xfff;
    codes[offset + 2 * g] = BASE64_CODE[twelve >> 6] as number;
    codes[offset + 2 * g + 1] = BASE64_CODE[twelve & 63] as number;
  }
  const last = hexValue(text.charCodeAt(at + 63));
  if ((bad | last) < 0) return false;
  codes[offset + 42] = BASE64_CODE[last << 2] as number;
  return true;
}

const codesOf = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** The base64 digits' character codes, written in place for each digest; the last is `=`. */
const DIGEST: number[] = new Array<number>(44).fill(0x3d);

/**
 * The base64 of the 32 bytes that the 64 hex digits at `text[at…]` write, or undefined
 * when those are not 64 hex digits.
 */
export function hexDigestBase64(text: string, at: number): string | undefined {
  return writeDigest(text, at, DIGEST, 0) ? String.fromCharCode.apply(null, DIGEST) : undefined;
}

const HEAD = codesOf('{"hashes":{"sha256":"');
const MIDDLE = codesOf('="},"length":');
/** A common target's text by the number of its length's digits (1–16), written in place. */
const TEXTS: number[][] = Array.from({ length: 17 }, (_, digits) => [
  ...HEAD,
  ...new Array<number>(43).fill(0),
  ...MIDDLE,
  ...new Array<number>(digits).fill(0x30),
  0x7d,
]);
const LENGTH_AT = HEAD.length + 43 + MIDDLE.length;

/**
 * `{"hashes":{"sha256":"…"},"length":N}`, the canonical text of a target whose sha256 the
 * 64 hex digits at `text[at…]` write and whose length is `length` (a safe integer, at
 * least 0); undefined when those are not 64 hex digits or the length is not such a number.
 */
export function commonSha256Text(text: string, at: number, length: number): string | undefined {
  if (!(Number.isSafeInteger(length) && length >= 0)) return undefined;
  let digits = 1;
  for (let x = length; x >= 10; x = Math.floor(x / 10)) digits++;
  const codes = TEXTS[digits] as number[];
  if (!writeDigest(text, at, codes, HEAD.length)) return undefined;
  let x = length;
  for (let i = digits - 1; i >= 0; i--) {
    codes[LENGTH_AT + i] = 0x30 + (x % 10);
    x = Math.floor(x / 10);
  }
  return String.fromCharCode.apply(null, codes);
}
