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
const FILE_CLOSE = Buffer.from(']}', 'utf8');
/** The characters Go escapes, as UTF-8 (in UTF-8 no other character holds these bytes). */
const ESCAPED = ['<', '>', '&', '\u2028', '\u2029'].map((c) => Buffer.from(c, 'utf8'));

/** Whether UTF-8 `bytes` hold a character Go's HTMLEscape rewrites. */
function needsEscape(bytes: Buffer): boolean {
  return ESCAPED.some((c) => bytes.includes(c));
}

/**
 * A file's bytes up to its signatures, made from the canonical text (~1 MB for 10,000
 * targets), possibly while the signatures are still being made. When `message`, the
 * text's UTF-8 bytes, holds nothing Go escapes, the escaped text is the text itself and
 * its bytes are `message`, taken as they are instead of encoded again.
 */
export class EnvelopeHead {
  private readonly signed: Buffer;

  constructor(canonical: string, message?: Buffer) {
    this.signed =
      message !== undefined && !needsEscape(message)
        ? message
        : Buffer.from(htmlEscape(canonical), 'utf8');
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
    return Buffer.concat([
      HEAD_OPEN,
      this.signed,
      HEAD_CLOSE,
      Buffer.from(sigs, 'utf8'),
      FILE_CLOSE,
    ]);
  }
}
