/**
 * Tag specs of `notary-hsm sign`, `add` and `remove`, from arguments and --from-file:
 * tags are taken exactly (inner, leading and trailing whitespace kept; the tag of
 * `TAG=sha256:HEX:SIZE` is everything before the last `=sha256:`; a file line loses only
 * its line break and one `\r`), and a name Go cannot write is refused by every command
 * and source alike, with USAGE (exit 2) naming the spec, before any server or daemon is
 * contacted.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../src/cli/main';
import {
  parseTagSpec,
  parseTagSpecs,
  specLines,
  type Spec,
} from '../../../src/cli/commands/targets';
import { checkTargetName, targetNameProblem } from '../../../src/metadata/targets';
import { makeTempDir } from '../../helpers/tmp';

const HEX = 'ab'.repeat(32);

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  // No server and no daemon: a command that got past its tag checks fails with USAGE
  // about --server or the token instead, which the tests tell apart by message.
  const io = {
    out: (t: string) => void out.push(t),
    err: (t: string) => void err.push(t),
    env: {},
  };
  return { io, out, err };
}

describe('parseTagSpec', () => {
  it.each([
    ['x y', `x y=sha256:${HEX}:12`],
    [' lead', ` lead=sha256:${HEX}:1`],
    ['trail ', `trail =sha256:${HEX}:1`],
    ['a\u00a0b', `a\u00a0b=sha256:${HEX}:1`],
    ['a=sha256:b', `a=sha256:b=sha256:${HEX}:1`],
    ['v1=', `v1==sha256:${HEX}:1`],
    ['名前 é', `名前 é=sha256:${HEX}:0`],
    ['#hash', `#hash=sha256:${HEX}:3`],
  ])('keeps the tag %j exactly', (tag, text) => {
    const [name, meta] = parseTagSpec({ text });
    expect(name).toBe(tag);
    expect(meta.sha256Digest!.toString('hex')).toBe(HEX);
  });

  it.each([
    `v1=sha256:${HEX}`,
    `v1 = sha256:${HEX}:1`,
    `v1=sha256:${HEX}:1 `,
    `v1=sha256:${HEX.toUpperCase()}:1`,
    `v1=sha256:${HEX}:99999999999999999`,
    'v1',
  ])('refuses the malformed spec %j with USAGE', (text) => {
    expect(() => parseTagSpec({ text })).toThrowWithCode('USAGE');
  });

  it.each([
    ['an empty tag', `=sha256:${HEX}:1`, /cannot be empty/],
    ['a tab', `a\tb=sha256:${HEX}:1`, /control character U\+0009/],
    ['a NUL', `a\u0000b=sha256:${HEX}:1`, /control character U\+0000/],
    ['a newline', `a\nb=sha256:${HEX}:1`, /control character U\+000A/],
    ['a lone surrogate', `a\ud800b=sha256:${HEX}:1`, /lone surrogate/],
  ])('refuses %s, naming the spec', (_what, text, why) => {
    expect(() => parseTagSpec({ text })).toThrowWithCode('USAGE');
    expect(() => parseTagSpec({ text })).toThrow(why);
    expect(() => parseTagSpec({ text })).toThrow(JSON.stringify(text));
  });
});

describe('the one target name check', () => {
  it('accepts what Go writes, refuses what it cannot', () => {
    for (const ok of ['x y', ' ', 'a<b&c>é', '\u007f', '😀', 'ci/build-42'])
      expect(targetNameProblem(ok)).toBeUndefined();
    for (const bad of ['', '\u001f', 'a\udc00', '\ud83d'])
      expect(() => checkTargetName(bad)).toThrowWithCode('TARGET_INVALID');
  });
});

describe('parseTagSpecs (a --from-file)', () => {
  it('reads every spec as parseTagSpec does, a repeated tag keeping its last digest', () => {
    const specs = Array.from({ length: 50 }, (_, i) => ({
      text: `t${i % 40}=sha256:${createHash('sha256').update(String(i)).digest('hex')}:${i}`,
    }));
    const many = parseTagSpecs(specs);
    const one = new Map(specs.map(parseTagSpec));
    expect([...many.keys()]).toEqual([...one.keys()]);
    for (const [tag, meta] of one) expect(many.get(tag)?.toJson()).toEqual(meta.toJson());
    expect(many.get('t0')?.length).toBe(40);
  });

  it('refuses the first bad spec as parseTagSpec does', () => {
    const good = { text: `a=sha256:${'0'.repeat(64)}:1` };
    const bad = { text: `b=sha256:${'0'.repeat(64)}:007`, file: 'f', line: 2 };
    expect(() => parseTagSpecs([good, bad])).toThrow('size "007": expected bytes');
    expect(() => parseTagSpec(bad)).toThrow('size "007": expected bytes');
  });
});

describe('specLines (--from-file)', () => {
  const lines = (text: string | Buffer) =>
    specLines(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, 'tags.txt').map(
      (s) => s.text,
    );

  it('keeps each line exactly, less the line break and one trailing \\r', () => {
    expect(lines('a b\n  lead\ntrail  \r\nx\r\r\nlast')).toEqual([
      'a b',
      '  lead',
      'trail  ',
      'x\r',
      'last',
    ]);
  });

  it('skips blank lines and lines starting with #, not a # later in the line', () => {
    expect(lines('# comment\n\n   \n\r\n\t\na#b\n #not a comment\n')).toEqual([
      'a#b',
      ' #not a comment',
    ]);
  });

  it('drops a leading byte-order mark only', () => {
    expect(lines('\ufeff# c\nv1\n')).toEqual(['v1']);
    expect(lines('v1\n\ufeffv2')).toEqual(['v1', '\ufeffv2']);
  });

  it('refuses a line that is not UTF-8, naming the file and line', () => {
    const bytes = Buffer.concat([Buffer.from('ok\nbad '), Buffer.from([0xff]), Buffer.from('\n')]);
    expect(() => lines(bytes)).toThrowWithCode('USAGE');
    expect(() => lines(bytes)).toThrow('--from-file tags.txt line 2: not valid UTF-8');
  });

  it('says where each spec came from', () => {
    expect(specLines(Buffer.from('#\nv1\n'), 'f')).toEqual([{ text: 'v1', file: 'f', line: 2 }]);
    const [bad] = specLines(Buffer.from('#\nv1\n'), 'f');
    expect(() => parseTagSpec(bad as Spec)).toThrow('--from-file f line 2: "v1": expected');
  });
});

describe('sign, add and remove refuse the same bad names the same way (exit 2)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('tag-specs-');
  });

  // [tag, why, the tag's bytes in a file, why for the file]. A lone surrogate cannot be
  // encoded as UTF-8: in a file it is the WTF-8 bytes ED BF BF, which are not UTF-8.
  const BAD = [
    ['a\tb', /control character U\+0009/, Buffer.from('a\tb'), /control character U\+0009/],
    ['a\u0001b', /control character U\+0001/, Buffer.from('a\u0001b'), /U\+0001/],
    ['a\udfffb', /lone surrogate/, Buffer.from([0x61, 0xed, 0xbf, 0xbf, 0x62]), /not valid UTF-8/],
  ] as const;

  it.each(BAD)('%j', async (tag, why, tagBytes, fileWhy) => {
    const runs: [string, string[], RegExp][] = [
      ['sign', ['sign', `example.com/app:${tag}`, '--digest', `sha256:${HEX}`, '--size', '1'], why],
      ['add', ['add', 'example.com/app', `${tag}=sha256:${HEX}:1`], why],
      ['remove', ['remove', 'example.com/app', tag], why],
    ];
    const fileAdd = join(dir, 'add.txt');
    writeFileSync(
      fileAdd,
      Buffer.concat([
        Buffer.from(`ok=sha256:${HEX}:1\n`),
        tagBytes,
        Buffer.from(`=sha256:${HEX}:1\n`),
      ]),
    );
    runs.push(['add --from-file', ['add', 'example.com/app', '--from-file', fileAdd], fileWhy]);
    const fileRemove = join(dir, 'remove.txt');
    writeFileSync(fileRemove, Buffer.concat([Buffer.from('ok\n'), tagBytes, Buffer.from('\n')]));
    runs.push([
      'remove --from-file',
      ['remove', 'example.com/app', '--from-file', fileRemove],
      fileWhy,
    ]);
    for (const [what, argv, expected] of runs) {
      const c = capture();
      expect([what, await main(argv, c.io)]).toEqual([what, 2]);
      const message = c.err.join('');
      expect(message).toMatch(expected);
      expect(message).toMatch(/\[USAGE\]/);
      if (what.endsWith('--from-file')) expect(message).toMatch(/--from-file \S+ line 2: /);
      else expect(message).toContain(JSON.stringify(tag).slice(1, -1));
    }
  });

  it('an empty tag is refused by add and remove', async () => {
    for (const argv of [
      ['add', 'example.com/app', `=sha256:${HEX}:1`],
      ['remove', 'example.com/app', ''],
    ]) {
      const c = capture();
      expect(await main(argv, c.io)).toBe(2);
      expect(c.err.join('')).toMatch(/cannot be empty.*\[USAGE\]/);
    }
  });

  it('a good tag with spaces gets past the tag checks (to the missing token)', async () => {
    const c = capture();
    expect(await main(['add', 'example.com/app', `x y=sha256:${HEX}:1`], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/no client token/);
  });
});
