/**
 * Shell completion for a commander program (`notary-hsm completion bash`, `notary-hsmd
 * completion zsh`): a script made from the program's command tree, so it lists exactly the
 * commands and options that are registered. After a command without subcommands, words
 * complete as file names (GUNs, tags and files are not known to the shell), and so does
 * the value of an option that takes one. zsh runs the bash script through bashcompinit.
 */
import type { Command } from 'commander';
import { NotaryHsmError } from '../errors';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

interface Node {
  /** Command names from the program down, joined with '/' ('' for the program). */
  readonly path: string;
  readonly subcommands: readonly string[];
  readonly options: readonly string[];
  /** The options that take a value. */
  readonly valued: readonly string[];
}

function flags(cmd: Command): { options: string[]; valued: string[] } {
  const options = ['--help'];
  const valued: string[] = [];
  for (const o of cmd.options) {
    if (o.hidden) continue;
    const names = [o.long, o.short].filter((n): n is string => typeof n === 'string');
    options.push(...names);
    if (o.required || o.optional) valued.push(...names);
  }
  return { options, valued };
}

/** Every command of the tree, the program first. */
export function commandTree(program: Command): Node[] {
  const nodes: Node[] = [];
  const walk = (cmd: Command, path: string): void => {
    const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
    nodes.push({
      path,
      subcommands: subs.flatMap((c) => [c.name(), ...c.aliases()]),
      ...flags(cmd),
    });
    for (const c of subs) walk(c, path === '' ? c.name() : `${path}/${c.name()}`);
  };
  walk(program, '');
  return nodes;
}

const words = (list: readonly string[]): string => list.join(' ');

/** The bash completion script for `program` (its name is the command it completes). */
function bashScript(program: Command): string {
  const name = program.name();
  const fn = `_${name.replace(/\W/g, '_')}_complete`;
  const nodes = commandTree(program);
  const paths = nodes.filter((n) => n.path !== '').map((n) => n.path);
  const cases = nodes.map((n) =>
    [
      `    '${n.path}')`,
      `      subs='${words(n.subcommands)}'`,
      `      opts='${words(n.options)}'`,
      `      valued=' ${words(n.valued)} ' ;;`,
    ].join('\n'),
  );
  return `# ${name} completion for bash (zsh: through bashcompinit)
# load it with: source <(${name} completion bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" path="" w i subs opts valued
  local paths=' ${words(paths)} '
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [[ $w != -* && $paths == *" \${path:+$path/}$w "* ]]; then path="\${path:+$path/}$w"; fi
  done
  ((COMP_CWORD > 1)) && prev="\${COMP_WORDS[COMP_CWORD - 1]}"
  case "$path" in
${cases.join('\n')}
  esac
  if [[ -n $prev && $valued == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F ${fn} ${name}
`;
}

/** The completion script of `program` for `shell`. throws: USAGE */
export function completionScript(shell: string, program: Command): string {
  if (shell === 'bash') return bashScript(program);
  if (shell === 'zsh') {
    return [
      `#compdef ${program.name()}`,
      '# load it with: source <(' + program.name() + ' completion zsh)',
      'autoload -U +X bashcompinit && bashcompinit',
      bashScript(program),
    ].join('\n');
  }
  throw new NotaryHsmError(
    'USAGE',
    `no completion for shell ${shell} (one of: ${SHELLS.join(', ')})`,
  );
}

/** Adds `completion <shell>` to `program`; `tree` gives the program to describe when asked. */
export function addCompletionCommand(
  program: Command,
  tree: () => Command,
  out: (text: string) => void,
): void {
  program
    .command('completion')
    .description(`print a shell completion script (${SHELLS.join(', ')})`)
    .argument('<shell>', SHELLS.join(' or '))
    .action((shell: string) => out(completionScript(shell, tree())))
    .exitOverride();
}
