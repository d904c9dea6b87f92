/**
 * The notary-hsm command line: parses arguments, runs one command, maps failures to
 * messages and exit codes (0 ok, 1 failure, 2 usage error). A failure is one line on
 * stderr, `notary-hsm: MESSAGE [CODE]`; with `--json` it is one JSON object on stderr
 * instead, `{"error":{"code","message"}}` (the daemon's error shape), usage errors
 * included, so a script reads results from stdout and failures from stderr.
 */
import type * as Commander from 'commander';
import type { Command } from 'commander';
import { NotaryHsmError } from '../errors';
import type * as AuditCommand from './commands/audit';
import type * as Completion from './completion';
import type * as Tty from './tty';
import type * as DelegationCommand from './commands/delegation';
import type * as InitCommand from './commands/init';
import type * as KeysCommand from './commands/keys';
import type * as ListCommand from './commands/list';
import type * as ResetCommand from './commands/reset';
import type * as RootCommand from './commands/root';
import type * as RootCeremonyCommand from './commands/root-ceremony';
import type * as RotateCommand from './commands/rotate';
import type * as TargetsCommand from './commands/targets';
import type * as VerifyCommand from './commands/verify';
import { exitCodeFor, processIo, type Io } from './context';
import { VERSION } from './version';

type Register = (program: Command, io: Io) => void;

/* eslint-disable @typescript-eslint/no-require-imports -- modules loaded on demand, each
   by a literal id that the bundler (scripts/bundle-cli.js) follows */

/**
 * Each top-level command and the module that registers it, loaded on demand: a command's
 * client code (and its dependencies) costs start-up time that other commands need not pay.
 */
const COMMANDS: readonly (readonly [readonly string[], () => Register])[] = [
  [['init'], () => (require('./commands/init') as typeof InitCommand).registerInit],
  [
    ['sign', 'add', 'remove'],
    () => (require('./commands/targets') as typeof TargetsCommand).registerTargets,
  ],
  [
    ['delegation'],
    () => (require('./commands/delegation') as typeof DelegationCommand).registerDelegation,
  ],
  [['list'], () => (require('./commands/list') as typeof ListCommand).registerList],
  [['audit'], () => (require('./commands/audit') as typeof AuditCommand).registerAudit],
  [['reset'], () => (require('./commands/reset') as typeof ResetCommand).registerReset],
  [['verify'], () => (require('./commands/verify') as typeof VerifyCommand).registerVerify],
  [
    ['root'],
    () => (program, io) => {
      const root = (require('./commands/root') as typeof RootCommand).registerRoot(program, io);
      (require('./commands/root-ceremony') as typeof RootCeremonyCommand).registerRootCeremony(
        root,
        io,
      );
    },
  ],
  [['rotate'], () => (require('./commands/rotate') as typeof RotateCommand).registerRotate],
  [['tokens', 'keys'], () => (require('./commands/keys') as typeof KeysCommand).registerKeys],
  [
    ['completion'],
    () => (program, io) =>
      (require('./completion') as typeof Completion).addCompletionCommand(
        program,
        () => buildProgram(io),
        (t) => io.out(t),
      ),
  ],
];

/** The failure as `--json` prints it. */
export function jsonError(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** Whether `--json` is among the options (before a `--`). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * The program for `argv`: with a known command first, only that command is registered;
 * anything else (help, a typo) registers them all, so help lists every command and an
 * unknown one is named as such.
 */
export function buildProgram(
  io: Io,
  argv: readonly string[] = [],
  opts: { json?: boolean } = {},
): Command {
  const program = new (require('commander') as typeof Commander).Command('notary-hsm')
    .description('Notary v1 trust data signed with hardware keys')
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      ...(opts.json
        ? {
            outputError: (s: string) =>
              io.err(jsonError('USAGE', s.trim().replace(/^error: /, ''))),
          }
        : {}),
    });
  const first = argv.find((a) => !a.startsWith('-'));
  const chosen = COMMANDS.find(([names]) => first !== undefined && names.includes(first));
  const registers = chosen ? [chosen] : COMMANDS;
  for (const [, register] of registers) register()(program, io);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Runs the CLI and resolves with the exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  // The version needs no command at all (not even the argument parser).
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    io.out(VERSION);
    return 0;
  }
  const json = wantsJson(argv);
  try {
    await buildProgram(io, argv, { json }).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof (require('commander') as typeof Commander).CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    const code = err instanceof NotaryHsmError ? err.code : 'INTERNAL';
    const message = err instanceof Error ? err.message : String(err);
    const red = (t: string): string => (require('./tty') as typeof Tty).terminal(io).red(t);
    io.err(json ? jsonError(code, message) : `${red('notary-hsm:')} ${message} [${code}]`);
    return exitCodeFor(err);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
