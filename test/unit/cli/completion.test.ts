/**
 * `completion bash|zsh`: the script is made from the registered command tree, so every
 * command and subcommand of both programs is in it, with its options.
 */
import type { Command } from 'commander';
import { main as daemonMain } from '../../../daemon/main';
import { commandTree } from '../../../src/cli/completion';
import { buildProgram, main } from '../../../src/cli/main';

async function capture(
  run: (
    argv: string[],
    io: { out(t: string): void; err(t: string): void; env: NodeJS.ProcessEnv },
  ) => Promise<number>,
  argv: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env: {},
  });
  return { code, out: out.join(''), err: err.join('') };
}

const silent = { out: () => undefined, err: () => undefined, env: {} };

function allCommands(cmd: Command, path = ''): string[] {
  return cmd.commands.flatMap((c) => {
    const p = path ? `${path}/${c.name()}` : c.name();
    return [p, ...allCommands(c, p)];
  });
}

describe('notary-hsm completion', () => {
  it('lists every registered command and subcommand, with their options', async () => {
    const { code, out } = await capture(main, ['completion', 'bash']);
    expect(code).toBe(0);
    const registered = allCommands(buildProgram(silent));
    expect(registered).toEqual(expect.arrayContaining(['delegation/add', 'root/show', 'verify']));
    for (const path of registered) expect(out).toContain(`'${path}')`);
    const paths = /local paths=' ([^']*) '/.exec(out)?.[1]?.split(' ');
    expect(paths).toEqual(registered);
    for (const node of commandTree(buildProgram(silent))) {
      expect(out).toContain(`opts='${node.options.join(' ')}'`);
    }
    expect(out).toMatch(/'sign'\)\n\s+subs=''\n\s+opts='[^']*--digest[^']*--size[^']*--json/);
    expect(out).toMatch(/^complete -o filenames -F _notary_hsm_complete notary-hsm$/m);
  });

  it('prints zsh through bashcompinit and refuses other shells as a usage error', async () => {
    const zsh = await capture(main, ['completion', 'zsh']);
    expect(zsh.code).toBe(0);
    expect(zsh.out).toMatch(/^#compdef notary-hsm\n/);
    expect(zsh.out).toContain('bashcompinit');
    const fish = await capture(main, ['completion', 'fish']);
    expect(fish.code).toBe(2);
    expect(fish.err).toContain('[USAGE]');
  });
});

describe('notary-hsmd completion', () => {
  it('lists serve, token, tokens, keys list and keys generate with their options', async () => {
    const { code, out } = await capture(daemonMain, ['completion', 'bash']);
    expect(code).toBe(0);
    for (const path of [
      'serve',
      'token',
      'tokens',
      'keys',
      'keys/list',
      'keys/generate',
      'completion',
    ]) {
      expect(out).toContain(`'${path}')`);
    }
    expect(out).toMatch(/'keys\/generate'\)\n\s+subs=''\n\s+opts='[^']*--token[^']*--label/);
    expect(out).toMatch(/^complete -o filenames -F _notary_hsmd_complete notary-hsmd$/m);
  });
});
