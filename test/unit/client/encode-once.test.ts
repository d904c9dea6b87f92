/**
 * The next version's canonical text is made into UTF-8 bytes once: the message, and the
 * file and the sign request built around those bytes. Both must be byte for byte what
 * was made before from the text (the file: `{"signed":` + Go's HTML-escaped text +
 * signatures; the request: the body's JSON text with the document spliced in, encoded),
 * for texts with and without the characters Go escapes, and with names outside ASCII
 * (among them characters whose UTF-8 begins as U+2028's does).
 */
import { fileParts } from '../../../src/client/signing';
import { JsonText, requestParts } from '../../../src/client/daemon-client';
import { canonicalJson } from '../../../src/metadata/canonical';
import { FileMeta } from '../../../src/metadata/file-meta';
import {
  EnvelopeHead,
  goString,
  htmlEscape,
  type WireSignature,
} from '../../../src/metadata/go-json';
import { Targets } from '../../../src/metadata/targets';
import { GoTime } from '../../../src/metadata/time';

/** The file as it was made from the text alone. */
function fileBefore(canonical: string, sigs: readonly WireSignature[]): Buffer {
  const head = Buffer.from('{"signed":' + htmlEscape(canonical) + ',"signatures":[', 'utf8');
  const tail = sigs
    .map(
      (s) =>
        `{"keyid":${goString(s.keyid)},"method":${goString(s.method)},"sig":${goString(s.sig)}}`,
    )
    .join(',');
  return Buffer.concat([head, Buffer.from(tail + ']}', 'utf8')]);
}

/** The request body as it was made: the text spliced into the other members' JSON. */
function requestBefore(rest: Record<string, unknown>, signed: string): Buffer {
  let text = JSON.stringify(rest).slice(0, -1);
  text += `${text.length > 1 ? ',' : ''}"signed":${signed}`;
  return Buffer.from(`${text}}`, 'utf8');
}

function canonicalOf(names: readonly string[]): string {
  const targets = new Map(
    names.map((n, i) => [n, FileMeta.sha256(Buffer.alloc(32, i + 1), 10 + i)] as const),
  );
  return canonicalJson(
    new Targets({ expires: GoTime.parse('2030-01-01T00:00:00Z'), version: 3, targets }).toJson(),
  );
}

const SIGS: WireSignature[] = [
  { keyid: 'a'.repeat(64), method: 'ecdsa', sig: 'MEUCIQ+/=' },
  { keyid: 'b'.repeat(64), method: 'ecdsa', sig: 'c2ln' },
];

const CASES: [string, string[]][] = [
  ['ASCII only', ['v1', 'v2', 'latest']],
  ['names outside ASCII, none escaped', ['é', 'tag-😀', '名前', 'a–b', 'dots…', '\u2027\u202a']],
  ['<, > and &', ['a<b', 'c>d', 'e&f']],
  ['U+2028 and U+2029', ['line\u2028sep', 'para\u2029sep']],
  ['all of them', ['é<😀>&\u2028\u2029', 'v1']],
];

describe('the next version made into bytes once', () => {
  it.each(CASES)('the file is the same bytes as before: %s', (_what, names) => {
    const canonical = canonicalOf(names);
    const parts = fileParts(canonical, Buffer.from(canonical, 'utf8'));
    const before = fileBefore(canonical, SIGS);
    expect(parts.head.withSignatures(SIGS).equals(before)).toBe(true);
    expect(new EnvelopeHead(canonical).withSignatures(SIGS).equals(before)).toBe(true);
    expect(fileParts(canonical).head.withSignatures(SIGS).equals(before)).toBe(true);
    expect(parts.message.equals(Buffer.from(canonical, 'utf8'))).toBe(true);
  });

  it('makes each file its own bytes, however often and with however many signatures', () => {
    const canonical = canonicalOf(['v1', 'é']);
    const head = new EnvelopeHead(canonical, Buffer.from(canonical, 'utf8'));
    const first = head.withSignatures(SIGS);
    const copy = Buffer.from(first);
    const many = Array.from({ length: 40 }, (_, i) => ({ ...SIGS[0]!, sig: 'A'.repeat(100 + i) }));
    // More signatures than the room left after the head: the file is made whole instead.
    expect(head.withSignatures(many).equals(fileBefore(canonical, many))).toBe(true);
    expect(head.withSignatures(SIGS).equals(fileBefore(canonical, SIGS))).toBe(true);
    expect(first.equals(copy)).toBe(true);
    const fresh = new EnvelopeHead(canonical, Buffer.from(canonical, 'utf8'));
    expect(fresh.withSignatures(many).equals(fileBefore(canonical, many))).toBe(true);
    expect(fresh.withSignatures(SIGS).equals(first)).toBe(true);
  });

  it('escapes in the file exactly the characters Go does, and only in the file', () => {
    const canonical = canonicalOf(['a<b', 'line\u2028sep']);
    const parts = fileParts(canonical, Buffer.from(canonical, 'utf8'));
    const file = parts.head.withSignatures(SIGS).toString('utf8');
    expect(file).toContain('a\\u003cb');
    expect(file).toContain('line\\u2028sep');
    expect(parts.message.toString('utf8')).toContain('a<b');
  });

  it.each(CASES)('the sign request is the same bytes as before: %s', (_what, names) => {
    const canonical = canonicalOf(names);
    const message = Buffer.from(canonical, 'utf8');
    const rest = { gun: 'example.com/é"app', role: 'targets/ci', keys: ['k1', 'ké'] };
    // The document is sent as the message's own bytes, between the other members and `}`.
    const parts = requestParts({ ...rest, signed: new JsonText(message) });
    expect(parts).toHaveLength(3);
    expect(parts[1]).toBe(message);
    expect(Buffer.concat(parts).equals(requestBefore(rest, canonical))).toBe(true);
  });
});
