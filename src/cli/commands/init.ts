/**
 * `notary-hsm init GUN --root-key K… [--root-threshold N] [--targets-key K] [--delegation targets/NAME --delegation-key K [--docker]]`:
 * creates a repository whose root certificate the daemon builds and signs with a token
 * key, with server-held snapshot and timestamp keys, and optionally one delegation.
 */
import type { Command } from 'commander';
import { DOCKER_RELEASES, dockerReleasesFor, dockerRoles } from '../../client/docker';
import { initRepository } from '../../client/publish';
import { daemonSigning } from '../../client/signing';
import { NotaryHsmError, isNotaryHsmError } from '../../errors';
import { bareKeyId, type TufKey } from '../../metadata/keys';
import { checkDelegationRole } from '../../metadata/roles';
import { serverFrom, type Io, type ServerFlags } from '../context';
import { daemonFrom, withSignerOptions, type SignerFlags } from '../signer-context';
import { thresholdOption } from './flags';

interface InitFlags extends ServerFlags, SignerFlags {
  rootKey: string[];
  rootThreshold?: string;
  targetsKey?: string;
  delegation?: string;
  delegationKey?: string;
  delegationPaths?: string[];
  pinEnv?: string;
  json?: boolean;
  docker?: boolean;
}

export async function runInit(gun: string, flags: InitFlags, io: Io): Promise<void> {
  if ((flags.delegation === undefined) !== (flags.delegationKey === undefined)) {
    throw new NotaryHsmError('USAGE', '--delegation and --delegation-key go together');
  }
  if (flags.docker && flags.delegation === undefined) {
    throw new NotaryHsmError('USAGE', '--docker needs --delegation (the signer docker reads)');
  }
  const client = daemonFrom(flags, io);
  const rootThreshold = thresholdOption(flags.rootThreshold, '--root-threshold');
  const pin = flags.pinEnv ? io.env[flags.pinEnv] : undefined;
  const signing = daemonSigning({
    client,
    rootKey: flags.rootKey,
    targetsKey: flags.targetsKey ?? 'targets',
    ...(pin ? { pin } : {}),
  });
  const delegations = [];
  const delegationKeys: TufKey[] = [];
  if (flags.delegation && flags.delegationKey) {
    const role = checkDelegationRole(flags.delegation);
    const [key] = (await client.tufKeys([flags.delegationKey], gun)) as [TufKey];
    delegationKeys.push(key);
    const signer = {
      name: role,
      keyIds: [key.id],
      threshold: 1,
      paths: flags.delegationPaths ?? [''],
    };
    delegations.push(signer);
    if (flags.docker) {
      dockerRoles(role); // a direct child of targets
      if (role !== DOCKER_RELEASES) delegations.push(dockerReleasesFor(signer));
    }
  }
  const repo = await initRepository({
    server: serverFrom(flags, io),
    gun,
    signing,
    delegations,
    delegationKeys,
    ...(rootThreshold === undefined ? {} : { rootThreshold }),
  }).catch((err: unknown) => {
    if (isNotaryHsmError(err, 'VERSION_ROLLBACK')) {
      throw new NotaryHsmError(
        'VERSION_ROLLBACK',
        `${err.message}. notary-hsmd signed ${gun} before; if that repository was deleted on the ` +
          `server and is being created again, acknowledge it first: notary-hsm reset ${gun}`,
        { cause: err, details: err.details },
      );
    }
    throw err;
  });
  // Two IDs name each root key: root.json lists the key as a certificate (the certificate
  // key ID, what signatures, pins and notary's trust_pinning use); the daemon and `notary
  // key list` show the bare public key's ID (canonical). Both are printed, each named.
  const rootKeys = repo.root.signed
    .roleKeys('root')
    .map((k) => ({ certificateKeyId: k.id, canonicalKeyId: bareKeyId(k) }));
  const rootKeyIds = rootKeys.map((k) => k.certificateKeyId);
  if (flags.json) {
    io.out(
      JSON.stringify({ gun, rootKeyIds, rootKeys, delegations: delegations.map((d) => d.name) }),
    );
    return;
  }
  io.out(`initialised ${gun}`);
  for (const k of rootKeys) {
    io.out(`root key: certificate key ID ${k.certificateKeyId} (in root.json; pin it to verify)`);
    io.out(`          canonical key ID   ${k.canonicalKeyId} (as notary-hsm keys list shows it)`);
  }
  for (const d of delegations)
    io.out(`delegation ${d.name} → key ID ${d.keyIds.join(', ')} (canonical: a bare key)`);
}

export function registerInit(program: Command, io: Io): void {
  withSignerOptions(
    program
      .command('init')
      .description(
        'create a repository: root certificate and keys from notary-hsmd, server-held snapshot and timestamp',
      )
      .argument('<gun>', 'globally unique name, e.g. registry.example.com/team/app')
      .requiredOption(
        '--root-key <name...>',
        'the daemon keys that sign root (several: k of n with --root-threshold)',
      )
      .option('--root-threshold <k>', 'how many root keys must sign root (default 1)')
      .option('--targets-key <name>', 'the daemon key that signs targets', 'targets')
      .option('--delegation <role>', 'also delegate to targets/<name>')
      .option('--delegation-key <name>', 'the daemon key of that delegation')
      .option('--delegation-paths <prefix...>', 'path prefixes of that delegation (default: all)')
      .option(
        '--docker',
        'also delegate targets/releases to that key, as docker trust signer add does (docker pulls read it)',
      )
      .option(
        '--pin-env <name>',
        'environment variable holding the root token PIN (tokens with pin: request)',
      )
      .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
      .option('--tlscacert <file>', 'CA certificate for the server')
      .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
      .option('--tlskey <file>', 'key of the client certificate, PEM')
      .option('--json', 'print JSON'),
  ).action((gun: string, flags: InitFlags) => runInit(gun, flags, io));
}
