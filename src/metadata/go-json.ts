/**
 * File bytes as Go's encoding/json writes them. A Notary metadata file is Go's stdlib
 * marshal of `{"signed":<canonical bytes>,"signatures":[…]}`; the stdlib copies the
 * canonical bytes through its HTML-escaping compactor, so `<`, `>`, `&`, U+2028 and
 * U+2029 become `\u003c`-style escapes in the file although the signature covers the
 * unescaped bytes. The server hashes Go's re-serialisation, so one differing byte here
 * makes every Go client refuse the repository.
 */
import { canonicalJson, canonicalString } from './canonical';
import type { JsonObject } from './json';

const HTML = /[<>&\u2028\u2029]/g;

/** Go's HTMLEscape over JSON text. */
export function htmlEscape(jsonText: string): string {
  return jsonText.replace(HTML, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** One string as Go's stdlib encoder writes it (control characters are refused). */
export function goString(s: string): string {
  return htmlEscape(canonicalString(s));
}

/** A signature entry as it stands in a file. */
export interface WireSignature {
  readonly keyid: string;
  readonly method: string;
  /** Standard padded base64 of the signature bytes. */
  readonly sig: string;
}

/**
 * The exact bytes of a metadata file: `signed` (a Go field set) and its signatures.
 * throws: CANONICAL_UNREPRESENTABLE
 */
export function envelopeBytes(signed: JsonObject, signatures: readonly WireSignature[]): Buffer {
  return envelopeOfCanonical(canonicalJson(signed), signatures);
}

/**
 * The exact bytes of a metadata file whose `signed` value has the canonical JSON text
 * `canonical` (what canonicalJson wrote; the signatures cover its UTF-8 bytes).
 * throws: CANONICAL_UNREPRESENTABLE (a signature field)
 */
export function envelopeOfCanonical(
  canonical: string,
  signatures: readonly WireSignature[],
): Buffer {
  return new EnvelopeHead(canonical).withSignatures(signatures);
}

const HEAD_OPEN = Buffer.from('{"signed":', 'utf8');
const HEAD_CLOSE = Buffer.from(',"signatures":[', 'utf8');
/** The characters Go escapes, as UTF-8 (in UTF-8 no other character holds these bytes). */
const ESCAPED = ['<', '>', '&', '\u2028', '\u2029'].map((c) => Buffer.from(c, 'utf8'));

/** Whether UTF-8 `bytes` hold a character Go's HTMLEscape rewrites. */
function needsEscape(bytes: Buffer): boolean {
  return ESCAPED.some((c) => bytes.includes(c));
}

/** Room left for the signatures after a file's head (one ECDSA signature takes ~200 bytes). */
const SIGNATURE_ROOM = 4096;

/**
 * A file's bytes up to its signatures, made from the canonical text (~1 MB for 10,000
 * targets), while the signatures are still being made: the file's buffer is allocated
 * and filled up to them, with room after, so that only the signatures are written once
 * they come. When `message`, the text's UTF-8 bytes, holds nothing Go escapes, the
 * escaped text is the text itself and its bytes are `message`, copied as they are
 * instead of encoded again.
 */
export class EnvelopeHead {
  private readonly signed: Buffer;
  private readonly headLength: number;
  /** The file filled up to its signatures; the first withSignatures that fits takes it. */
  private file: Buffer | undefined;

  constructor(canonical: string, message?: Buffer) {
    const signed =
      message !== undefined && !needsEscape(message)
        ? message
        : Buffer.from(htmlEscape(canonical), 'utf8');
    this.signed = signed;
    this.headLength = HEAD_OPEN.length + signed.length + HEAD_CLOSE.length;
    const file = Buffer.alloc(this.headLength + SIGNATURE_ROOM);
    HEAD_OPEN.copy(file, 0);
    signed.copy(file, HEAD_OPEN.length);
    HEAD_CLOSE.copy(file, HEAD_OPEN.length + signed.length);
    this.file = file;
  }

  /** The whole file. throws: CANONICAL_UNREPRESENTABLE (a signature field) */
  withSignatures(signatures: readonly WireSignature[]): Buffer {
    const sigs = signatures
      .map(
        (s) =>
          '{"keyid":' +
          goString(s.keyid) +
          ',"method":' +
          goString(s.method) +
          ',"sig":' +
          goString(s.sig) +
          '}',
      )
      .join(',');
    const tail = Buffer.from(sigs + ']}', 'utf8');
    const { file } = this;
    if (file !== undefined && this.headLength + tail.length <= file.length) {
      this.file = undefined; // each file its own bytes: a later call makes a new one
      tail.copy(file, this.headLength);
      return file.subarray(0, this.headLength + tail.length);
    }
    return Buffer.concat([HEAD_OPEN, this.signed, HEAD_CLOSE, tail]);
  }
}
