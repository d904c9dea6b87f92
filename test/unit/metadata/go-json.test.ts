/**
 * Proves file bytes are what Go's stdlib encoder writes around the canonical `signed`
 * bytes: `{"signed":…,"signatures":[{"keyid","method","sig"}]}` with no whitespace or
 * trailing newline, and `<`, `>`, `&`, U+2028 and U+2029 HTML-escaped as `\u003c`-style
 * sequences in the file while the signature covers the raw characters. A target named
 * `a<b&c>é` (the case verified against the real server) appears as
 * `a\u003cb\u0026c\u003eé` in the file, raw in the signed message, and the file parses
 * back to the same bytes.
 */
import { createHash } from 'node:crypto';
import { FileMeta } from '../../../src/metadata/file-meta';
import { envelopeBytes, goString, htmlEscape } from '../../../src/metadata/go-json';
import { TufKey } from '../../../src/metadata/keys';
import { signMetadata } from '../../../src/metadata/sign';
import { parseMetadata, serialize, type SignedMetadata } from '../../../src/metadata/signed';
import { Targets } from '../../../src/metadata/targets';
import { GoTime } from '../../../src/metadata/time';
import { verifySignature } from '../../../src/metadata/verify';
import { MemorySigner } from '../../helpers/memory-signer';

describe('htmlEscape and goString', () => {
  it('escapes exactly <, >, &, U+2028 and U+2029 with lowercase hex', () => {
    expect(htmlEscape('<>&\u2028\u2029')).toBe('\\u003c\\u003e\\u0026\\u2028\\u2029');
    const untouched = 'é😀"\\/\'\u2027\u202a\u00a0\u007f=+';
    expect(htmlEscape(untouched)).toBe(untouched);
  });

  it('goString is the canonical string, HTML-escaped', () => {
    expect(goString('a<b&c>é')).toBe('"a\\u003cb\\u0026c\\u003eé"');
    expect(goString('q"b\\')).toBe('"q\\"b\\\\"');
    expect(goString('\u2029')).toBe('"\\u2029"');
  });

  it('goString refuses control characters (Go writes them raw and then fails)', () => {
    expect(() => goString('a\u0001')).toThrowWithCode('CANONICAL_UNREPRESENTABLE');
  });
});

describe('envelopeBytes', () => {
  it('writes signed, then signatures with keyid, method, sig — no whitespace, no newline', () => {
    const bytes = envelopeBytes({ version: 1, _type: 'Root' }, [
      { keyid: 'ab', method: 'ecdsa', sig: 'AA==' },
      { keyid: 'cd', method: 'eddsa', sig: 'AQ==' },
    ]);
    expect(bytes.toString('utf8')).toBe(
      '{"signed":{"_type":"Root","version":1},"signatures":[' +
        '{"keyid":"ab","method":"ecdsa","sig":"AA=="},{"keyid":"cd","method":"eddsa","sig":"AQ=="}]}',
    );
  });

  it('writes an empty signature list as []', () => {
    expect(envelopeBytes({}, []).toString('utf8')).toBe('{"signed":{},"signatures":[]}');
  });

  it('escapes HTML characters in signed members and values, and in signature fields', () => {
    const bytes = envelopeBytes({ '<k>': 'a&b' }, [{ keyid: '<', method: '&', sig: '>' }]);
    expect(bytes.toString('utf8')).toBe(
      '{"signed":{"\\u003ck\\u003e":"a\\u0026b"},"signatures":[{"keyid":"\\u003c","method":"\\u0026","sig":"\\u003e"}]}',
    );
  });
});

describe('a target named a<b&c>é, signed and written as Go does', () => {
  const NAME = 'a<b&c>é';
  const digest = createHash('sha256').update('manifest').digest();
  const signer = new MemorySigner();
  const key = TufKey.ecdsa(signer.publicKeySpki);
  const model = new Targets({
    expires: GoTime.parse('2030-01-01T00:00:00Z'),
    version: 1,
    targets: new Map([[NAME, FileMeta.sha256(digest, 1234)]]),
  });
  let file: SignedMetadata<Targets>;
  beforeAll(async () => {
    file = await signMetadata({
      role: 'targets',
      signed: model,
      requirements: [{ role: 'targets', keys: [key], threshold: 1 }],
      signers: [signer],
    });
  });

  it('the file holds a\\u003cb\\u0026c\\u003eé; the message holds the raw name', () => {
    const text = file.bytes.toString('utf8');
    expect(text).toContain('"a\\u003cb\\u0026c\\u003eé":{');
    expect(text).not.toMatch(/[<>&]/);
    expect(file.bytes.includes(Buffer.from('é', 'utf8'))).toBe(true); // raw UTF-8, not \u00e9
    expect(text).not.toContain('\\u00e9');
    const message = file.message.toString('utf8');
    expect(message).toContain(`"${NAME}":{`);
    expect(message).not.toContain('\\u003c');
  });

  it('the file bytes are exactly the Go envelope', () => {
    const sig = file.signatures[0]?.sig.toString('base64') ?? '';
    expect(file.bytes.toString('utf8')).toBe(
      '{"signed":{"_type":"Targets","delegations":{"keys":{},"roles":[]},' +
        '"expires":"2030-01-01T00:00:00Z","targets":{"a\\u003cb\\u0026c\\u003eé":{"hashes":' +
        `{"sha256":"${digest.toString('base64')}"},"length":1234}},"version":1},` +
        `"signatures":[{"keyid":"${key.id}","method":"ecdsa","sig":"${sig}"}]}`,
    );
  });

  it('the signature verifies over the raw canonical bytes, not over the escaped file text', () => {
    const text = file.bytes.toString('utf8');
    const signedInFile = text.slice('{"signed":'.length, text.indexOf(',"signatures":['));
    expect(signedInFile).toBe(htmlEscape(file.message.toString('utf8')));
    expect(signedInFile).not.toBe(file.message.toString('utf8'));
    const sig = file.signatures[0]?.sig ?? Buffer.alloc(0);
    expect(verifySignature(key, 'ecdsa', file.message, sig)).toBe(true);
    expect(verifySignature(key, 'ecdsa', Buffer.from(signedInFile, 'utf8'), sig)).toBe(false);
  });

  it('the file parses back to the raw name, the same message and the same bytes', () => {
    const back = parseMetadata('targets', file.bytes);
    expect([...back.signed.targets.keys()]).toEqual([NAME]);
    expect(back.message.equals(file.message)).toBe(true);
    expect(serialize(back.signed, back.signatures).equals(file.bytes)).toBe(true);
  });
});

describe('U+2028, U+2029 and HTML characters elsewhere in signed', () => {
  it('are escaped in the file and raw in the message, in names and in custom data', async () => {
    const signer = new MemorySigner('ed25519');
    const key = TufKey.ed25519(signer.publicKeySpki);
    const model = new Targets({
      expires: GoTime.parse('2031-02-03T04:05:06.7+05:30'),
      version: 4,
      targets: new Map([
        ['line\u2028para\u2029', FileMeta.sha256(Buffer.alloc(32, 1), 1, { note: '<&>' })],
      ]),
    });
    const file = await signMetadata({
      role: 'targets',
      signed: model,
      requirements: [{ role: 'targets', keys: [key], threshold: 1 }],
      signers: [signer],
    });
    const text = file.bytes.toString('utf8');
    expect(text).toContain('"line\\u2028para\\u2029":{"custom":{"note":"\\u003c\\u0026\\u003e"}');
    expect(text).not.toMatch(/[\u2028\u2029<>&]/);
    const message = file.message.toString('utf8');
    expect(message).toContain('"line\u2028para\u2029":{"custom":{"note":"<&>"}');
    expect(file.bytes.includes(Buffer.from([0xe2, 0x80, 0xa8]))).toBe(false);
    expect(file.message.includes(Buffer.from([0xe2, 0x80, 0xa8]))).toBe(true);
    expect(text).toContain('"expires":"2031-02-03T04:05:06.7+05:30"');
    const back = parseMetadata('targets', file.bytes);
    expect(serialize(back.signed, back.signatures).equals(file.bytes)).toBe(true);
  });
});
