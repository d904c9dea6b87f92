/**
 * The notary-hsm command line: parses arguments, runs one command, maps failures to
 * messages and exit codes (0 ok, 1 failure, 2 usage error). A failure is one line on
 * stderr, `notary-hsm: MESSAGE [CODE]`; with `--json` it is one JSON object on stderr
 * instead, `{"error":{"code","message"}}` (the daemon's error shape), usage errors
 * included, so a script reads results from stdout and failures from stderr.
 */
import { Command, CommanderError } from 'commander';
import { NotaryHsmError } from '../errors';
import { registerAudit } from './commands/audit';
import { registerDelegation } from './commands/delegation';
import { registerInit } from './commands/init';
import { registerTargets } from './commands/targets';
import { registerKeys } from './commands/keys';
import { registerList } from './commands/list';
import { registerReset } from './commands/reset';
import { registerRoot } from './commands/root';
import { registerRootCeremony } from './commands/root-ceremony';
import { registerRotate } from './commands/rotate';
import { registerVerify } from './commands/verify';
import { exitCodeFor, processIo, type Io } from './context';

export const VERSION = '0.1.0';

/** The failure as `--json` prints it. */
export function jsonError(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** Whether `--json` is among the options (before a `--`). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

export function buildProgram(io: Io, opts: { json?: boolean } = {}): Command {
  const program = new Command('notary-hsm')
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
  registerInit(program, io);
  registerTargets(program, io);
  registerDelegation(program, io);
  registerList(program, io);
  registerAudit(program, io);
  registerReset(program, io);
  registerVerify(program, io);
  registerRootCeremony(registerRoot(program, io), io);
  registerRotate(program, io);
  registerKeys(program, io);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Runs the CLI and resolves with the exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const json = wantsJson(argv);
  try {
    await buildProgram(io, { json }).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? 0 : 2;
    }
    const code = err instanceof NotaryHsmError ? err.code : 'INTERNAL';
    const message = err instanceof Error ? err.message : String(err);
    io.err(json ? jsonError(code, message) : `notary-hsm: ${message} [${code}]`);
    return exitCodeFor(err);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
