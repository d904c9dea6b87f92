/**
 * `notary-hsm reset GUN`: the admin's acknowledgement that the repository was deleted on
 * the Notary server (or its storage lost) and is being created again. The daemon forgets
 * the versions it signed for that GUN, so that `init` can sign root version 1 again; the
 * acknowledgement is audited. Refused while the server still holds trust data for the
 * GUN, unless `--force` (a server the CLI cannot reach, for instance).
 */
import type { Command } from 'commander';
import { repositoryExists } from '../../client/publish';
import { NotaryHsmError } from '../../errors';
import { serverFrom, type Io, type ServerFlags } from '../context';
import { daemonFrom, withSignerOptions, type SignerFlags } from '../signer-context';

interface ResetFlags extends ServerFlags, SignerFlags {
  force?: boolean;
  json?: boolean;
}

export async function runReset(gun: string, flags: ResetFlags, io: Io): Promise<void> {
  if (!flags.force && (await repositoryExists(serverFrom(flags, io), gun))) {
    throw new NotaryHsmError(
      'REPOSITORY_EXISTS',
      `${gun} still has trust data on the server: delete it there first ` +
        `(notary delete ${gun} --remote), or pass --force if this server is not the one that lost it`,
      { details: { gun } },
    );
  }
  const res = await daemonFrom(flags, io).resetRepository(gun);
  if (flags.json) io.out(JSON.stringify(res));
  else
    io.out(
      `notary-hsmd forgot the versions of ${res.forgotten} role(s) of ${gun}; ` +
        `notary-hsm init ${gun} … creates it again`,
    );
}

export function registerReset(program: Command, io: Io): void {
  withSignerOptions(
    program
      .command('reset')
      .description(
        'acknowledge that a repository was deleted on the server, so that its versions start over (admin)',
      )
      .argument('<gun>')
      .option('--force', 'do not check that the server has no trust data for the GUN')
      .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
      .option('--tlscacert <file>', 'CA certificate for the server')
      .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
      .option('--tlskey <file>', 'key of the client certificate, PEM')
      .option('--json', 'print JSON'),
  ).action((gun: string, flags: ResetFlags) => runReset(gun, flags, io));
}
