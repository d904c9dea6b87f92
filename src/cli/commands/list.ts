/**
 * `notary-hsm list GUN`: fetch a repository, verify its whole chain, print its targets.
 * Without pins it trusts the root the server sends (a read-only view) and says so; with
 * `--pin-root` or `--trust-file` the root is trusted as `verify` trusts it (a pinned
 * key, or the trust cache's chain; rollback and freeze refused) before listing.
 */
import type { Command } from 'commander';
import { listTargets } from '../../client/list';
import { readRepository, type TrustedRepository } from '../../client/reader';
import { verifyPinned } from '../../client/verify';
import { WatchedServer } from '../../client/watched-server';
import { NotaryHsmError } from '../../errors';
import { isTargetsRole } from '../../metadata/roles';
import { serverFrom, type Io, type ServerFlags } from '../context';
import { table } from '../table';
import { terminal } from '../tty';
import {
  pinnedOptions,
  timeoutMsFrom,
  trustNote,
  wantsPinning,
  withPinOptions,
  type PinFlags,
} from './pin-flags';

interface ListFlags extends ServerFlags, PinFlags {
  role?: string[];
  json?: boolean;
}

export async function runList(gun: string, flags: ListFlags, io: Io): Promise<void> {
  const roles = flags.role ?? [];
  for (const r of roles) {
    if (!isTargetsRole(r)) {
      throw new NotaryHsmError(
        'USAGE',
        `--role ${JSON.stringify(r)}: expected targets or targets/<name> (lowercase)`,
      );
    }
  }
  const server = serverFrom(flags, io);
  const term = terminal(io, flags);
  let repo: TrustedRepository;
  term.progress(`${gun}: fetching and verifying trust data`);
  if (wantsPinning(flags)) {
    const opts = pinnedOptions(gun, flags, io);
    const pinned = await verifyPinned(server, gun, opts).finally(() => term.clearProgress());
    io.err(trustNote(pinned, opts.from));
    repo = pinned;
  } else {
    // --timeout holds here too (it used to apply to pinned reads only).
    repo = await readRepository(new WatchedServer(server, timeoutMsFrom(flags)), gun).finally(() =>
      term.clearProgress(),
    );
  }
  const targets = listTargets(repo, roles.length > 0 ? roles : undefined);
  const rootKeyIds = [...repo.root.signed.role('root').keyIds];
  if (!wantsPinning(flags)) {
    io.err(
      `note: trusting the root the server sent for ${gun} (root key ${rootKeyIds.join(', ')}); ` +
        'this is a read-only view, not verification against a pinned root (use --pin-root)',
    );
  }
  for (const w of repo.warnings) io.err(`${term.yellow('warning:')} ${w}`);
  if (flags.json) {
    io.out(JSON.stringify({ gun, rootKeyIds, targets }));
    return;
  }
  if (targets.length === 0) {
    io.out('No targets present in this repository.');
    return;
  }
  io.out(
    table(
      ['NAME', 'DIGEST', 'SIZE (BYTES)', 'ROLE'],
      targets.map((t) => [t.name, t.digest.replace(/^sha256:/, ''), String(t.size), t.role]),
    ),
  );
}

export function registerList(program: Command, io: Io): void {
  withPinOptions(
    program
      .command('list')
      .description('list the targets of a repository, with digests, sizes and signing roles')
      .argument('<gun>', 'globally unique name, e.g. registry.example.com/team/app'),
  )
    .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
    .option('--tlscacert <file>', 'CA certificate for the server')
    .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
    .option('--tlskey <file>', 'key of the client certificate, PEM')
    .option('-r, --role <role...>', 'only targets from these roles (and their delegations)')
    .option('--json', 'print JSON')
    .action((gun: string, flags: ListFlags) => runList(gun, flags, io));
}
