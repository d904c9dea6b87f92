/**
 * Entry point of notary-hsmd: the signing service (`serve`, the default command) and the
 * local administration commands that work straight on the tokens of a configuration:
 *
 *   notary-hsmd [serve] [--config F] [--listen ADDR]
 *   notary-hsmd token [--json]
 *   notary-hsmd tokens [--config F] [--json]
 *   notary-hsmd keys list [--config F] [--token T] [--json]
 *   notary-hsmd keys generate [--config F] --token T --label L [--id HEX] [--json]
 *   notary-hsmd checkpoint export [--config F] [--out FILE] [--json]
 *   notary-hsmd checkpoint reset [--config F] --yes
 *   notary-hsmd completion bash|zsh
 *
 * Without --config every subcommand reads the same file (src/config/default-file.ts).
 *
 * bin/notary-hsmd calls the exported main(); run directly, the module calls it itself.
 */
import { Command, CommanderError } from 'commander';
import { checkpointExportCommand, checkpointResetCommand } from '../src/admin/checkpoint';
import { addCompletionCommand } from '../src/cli/completion';
import { keysGenerateCommand, keysListCommand, tokensCommand } from '../src/admin/commands';
import { exitCodeFor, processIo, type Io } from '../src/cli/context';
import { VERSION } from '../src/cli/version';
import { NotaryHsmError } from '../src/errors';
import { hashToken, newClientToken } from '../src/policy/clients';
import { adminConfigFile } from '../src/config/default-file';
import { log } from '../src/log';
import { startDaemon, type Daemon } from './serve';
import { inheritedSockets } from './systemd/listen-fds';
import { systemdNotifier } from './systemd/notify';

/**
 * Runs the daemon until SIGTERM/SIGINT; resolves with the exit code. Under systemd it
 * serves on the sockets passed to it (socket activation), says READY=1 once every
 * listener is bound and the tokens are opened, pings the watchdog, and says STOPPING=1
 * when shutdown begins. SIGHUP reloads the client list.
 */
async function serveCommand(flags: { config?: string; listen?: string }, io: Io): Promise<number> {
  const notifier = systemdNotifier(log());
  const inherited = inheritedSockets();
  let daemon: Daemon | undefined;
  // Installed before start-up: a SIGHUP while tokens open must not end the process.
  const onHangup = (): void => {
    if (daemon === undefined) {
      log().warn('SIGHUP ignored: still starting');
      return;
    }
    notifier.reloading();
    daemon.reloadClients();
    notifier.ready(`serving on ${daemon.addresses.join(', ')}`);
  };
  process.on('SIGHUP', onHangup);
  try {
    daemon = await startDaemon({
      ...(flags.config ? { config: flags.config } : {}),
      ...(flags.listen ? { listen: flags.listen } : {}),
      ...(inherited ? { inherited } : {}),
    });
  } catch (err) {
    process.off('SIGHUP', onHangup);
    notifier.stop();
    throw err;
  }
  // SIGTERM and SIGINT stop it gracefully from here on, before anyone is told it listens
  // (a supervisor or test may signal it the moment it reads that line).
  let stop = (): void => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (daemon.adminToken) {
    io.out(
      [
        `notary-hsmd: created the embedded default in ${daemon.config.file}`,
        'admin client token (shown once; only its hash is stored):',
        '',
        `  ${daemon.adminToken}`,
        '',
        'use it with: export NOTARY_HSM_TOKEN=<token>',
      ].join('\n'),
    );
  }
  io.out(`notary-hsmd listening on ${daemon.addresses.join(', ')}`);
  notifier.ready(`serving on ${daemon.addresses.join(', ')}`);
  notifier.startWatchdog();
  await stopped;
  notifier.stopping();
  process.off('SIGHUP', onHangup);
  await daemon.close();
  notifier.stop();
  return 0;
}

const CONFIG_HELP =
  'configuration file (default: the one serve reads, /etc/notary-hsm/daemon.yaml, else $NOTARY_HSM_VAR/daemon.yaml)';

function program(io: Io, setCode: (c: number) => void): Command {
  const p = new Command('notary-hsmd')
    .description('notary-hsm signing daemon and its local token administration')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  p.command('serve', { isDefault: true })
    .description(
      'serve the REST API (default; without --config: /etc/notary-hsm/daemon.yaml, else the embedded default under ./var)',
    )
    .option('-c, --config <file>', 'configuration file')
    .option('--listen <address>', 'override the configured listen address')
    .action(async (f: { config?: string; listen?: string }) => setCode(await serveCommand(f, io)));
  p.command('token')
    .description(
      'make a new client bearer token and print it with the SHA-256 to put in the configuration',
    )
    .option('--json', 'print JSON')
    .action((f: { json?: boolean }) => {
      const token = newClientToken();
      io.out(
        f.json
          ? JSON.stringify({ token, token_sha256: hashToken(token) })
          : `token:        ${token}\ntoken_sha256: ${hashToken(token)}`,
      );
    });
  p.command('tokens')
    .description('configured tokens: profile, presence, label, serial, PIN state')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print JSON')
    .action(async (f: { config?: string; json?: boolean }) =>
      setCode(await tokensCommand({ ...f, config: adminConfigFile(f.config) }, io)),
    );
  const keys = p.command('keys').description('keys on the configured tokens');
  keys
    .command('list')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('-t, --token <name>', 'only this token')
    .option('--json', 'print JSON')
    .action(async (f: { config?: string; token?: string; json?: boolean }) =>
      setCode(await keysListCommand({ ...f, config: adminConfigFile(f.config) }, io)),
    );
  keys
    .command('generate')
    .description('generate an EC P-256 key pair on the token (never exported)')
    .option('-c, --config <file>', CONFIG_HELP)
    .requiredOption('-t, --token <name>', 'token to generate on')
    .requiredOption('-l, --label <label>', 'CKA_LABEL of the new key')
    .option('--id <hex>', 'CKA_ID of the new key (default: from the label)')
    .option('--json', 'print JSON')
    .action(
      async (f: { config?: string; token: string; label: string; id?: string; json?: boolean }) =>
        setCode(await keysGenerateCommand({ ...f, config: adminConfigFile(f.config) }, io)),
    );
  const checkpoint = p
    .command('checkpoint')
    .description("the audit log's checkpoint, as its token holds it");
  checkpoint
    .command('export')
    .description('print (or write) the checkpoint, for notary-hsm audit verify --checkpoint')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('-o, --out <file>', 'write it to this file')
    .option('--json', 'print JSON')
    .action(async (f: { config?: string; out?: string; json?: boolean }) =>
      setCode(await checkpointExportCommand({ ...f, config: adminConfigFile(f.config) }, io)),
    );
  checkpoint
    .command('reset')
    .description(
      "re-anchor the checkpoint at the audit log's head (the daemon stopped), after a state directory was lost for good or the checkpoint moved",
    )
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--yes', 'yes: versions signed in lost records could be signed again')
    .action(async (f: { config?: string; yes?: boolean }) =>
      setCode(await checkpointResetCommand({ ...f, config: adminConfigFile(f.config) }, io)),
    );
  for (const c of [...p.commands, ...keys.commands, ...checkpoint.commands]) c.exitOverride();
  addCompletionCommand(
    p,
    () => p,
    (t) => io.out(t),
  );
  for (const c of [...p.commands, ...keys.commands]) c.exitOverride();
  return p;
}

/** Runs notary-hsmd and resolves with the exit code (0 ok, 1 failure, 2 usage). */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let code = 0;
  try {
    await program(io, (c) => (code = c)).parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const tag = err instanceof NotaryHsmError ? err.code : 'INTERNAL';
    io.err(`notary-hsmd: ${err instanceof Error ? err.message : String(err)} [${tag}]`);
    return exitCodeFor(err);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
