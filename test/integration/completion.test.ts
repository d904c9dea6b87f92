/**
 * The completion scripts in a real bash: the script printed by bin/notary-hsm (and
 * bin/notary-hsmd) is sourced, COMP_WORDS/COMP_CWORD are set as bash sets them on <TAB>,
 * and the completion function's COMPREPLY is read back.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from '../helpers/tmp';

const run = promisify(execFile);
const BIN = resolve(__dirname, '..', '..', 'bin');

/** What `<command> <words…><TAB>` offers, the last word being the one completed. */
async function complete(command: string, words: string[], cwd: string): Promise<string[]> {
  const fn = `_${command.replace(/\W/g, '_')}_complete`;
  const quoted = [command, ...words].map((w) => `'${w}'`).join(' ');
  const script = [
    `source <('${join(BIN, command)}' completion bash)`,
    `COMP_WORDS=(${quoted}); COMP_CWORD=${words.length}`,
    `${fn}`,
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join('\n');
  const { stdout } = await run('bash', ['--norc', '--noprofile', '-c', script], { cwd });
  return stdout.split('\n').filter((l) => l !== '');
}

describe('bash completion', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await makeTempDir('completion');
    await writeFile(join(dir, 'tags.txt'), '');
    await mkdir(join(dir, 'trust'));
  });

  it('completes notary-hsm del<TAB> to delegation, and its subcommands', async () => {
    expect(await complete('notary-hsm', ['del'], dir)).toEqual(['delegation']);
    expect(await complete('notary-hsm', ['delegation', ''], dir)).toEqual([
      'add',
      'remove',
      'list',
    ]);
    expect(await complete('notary-hsm', ['delegation', 'add', '--th'], dir)).toEqual([
      '--threshold',
    ]);
  });

  it("completes a command's options, and only its own", async () => {
    expect(await complete('notary-hsm', ['sign', '--di'], dir)).toEqual(['--digest']);
    expect(await complete('notary-hsm', ['verify', '--digest'], dir)).toEqual([]);
    expect(await complete('notary-hsm', ['--ver'], dir)).toEqual(['--version']);
  });

  it('falls back to file names for GUN/file arguments and option values', async () => {
    expect(await complete('notary-hsm', ['add', 'example/app', 'ta'], dir)).toEqual(['tags.txt']);
    expect(await complete('notary-hsm', ['add', '--from-file', 't'], dir)).toEqual([
      'tags.txt',
      'trust',
    ]);
  });

  it('completes notary-hsmd commands and subcommand options', async () => {
    expect(await complete('notary-hsmd', ['tok'], dir)).toEqual(['token', 'tokens']);
    expect(await complete('notary-hsmd', ['keys', 'generate', '--la'], dir)).toEqual(['--label']);
  });
});
