/**
 * `notary-hsm delegation add|remove|list`: manage signers after init.
 *
 * - `add GUN targets/NAME (--key K… | --cert FILE…) [--paths P… | --all-paths]
 *   [--threshold N] [--docker]`: `--key` names a daemon key, `--cert` a signer's
 *   certificate whose private key lives elsewhere (a developer's own YubiKey).
 * - `remove GUN targets/NAME [--key K…] [--docker]`: the whole role, or some of its keys
 *   (a daemon key name or a key ID).
 * - `list GUN [--json]`: one object per role with `role`, `keyIds`, `paths`, `threshold`.
 *
 * Changes re-sign the parent role (`targets` for a signer's role) through notary-hsmd
 * with the update loop's retries.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { addDelegation, listDelegations, removeDelegation } from '../../client/delegations';
import { readRepository } from '../../client/reader';
import { daemonSigning } from '../../client/signing';
import { NotaryHsmError } from '../../errors';
import { TufKey } from '../../metadata/keys';
import { certificatesFromPem, goPem } from '../../metadata/pem';
import { serverFrom, type Io, type ServerFlags } from '../context';
import { daemonFrom, withSignerOptions, type SignerFlags } from '../signer-context';
import { table } from '../table';
import { retryOptions, thresholdOption, withRetryOptions, type RetryFlags } from './flags';

interface DelegationFlags extends ServerFlags, SignerFlags, RetryFlags {
  key?: string[];
  cert?: string[];
  paths?: string[];
  allPaths?: boolean;
  threshold?: string;
  docker?: boolean;
  json?: boolean;
}

function usage(message: string): NotaryHsmError {
  return new NotaryHsmError('USAGE', message);
}

/** A signer's certificate file as an x509 TUF key (the whole chain, Go-exact PEM). throws: USAGE */
function certKey(file: string): TufKey {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `cannot read --cert ${file}`, { cause });
  }
  let ders: Buffer[];
  try {
    ders = certificatesFromPem(pem);
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `--cert ${file} holds no PEM certificate`, { cause });
  }
  const key = new TufKey(
    'ecdsa-x509',
    Buffer.from(ders.map((d) => goPem('CERTIFICATE', d)).join('')),
  );
  try {
    key.publicKey();
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `--cert ${file} is not an ECDSA certificate we can use`, {
      cause,
    });
  }
  return key;
}

export async function runDelegationAdd(
  gun: string,
  role: string,
  flags: DelegationFlags,
  io: Io,
): Promise<void> {
  if (!flags.key?.length && !flags.cert?.length)
    throw usage('name the signer: --key K or --cert FILE');
  if (flags.paths?.length && flags.allPaths)
    throw usage('--paths and --all-paths exclude each other');
  const retry = retryOptions(flags);
  const client = daemonFrom(flags, io, retry);
  const keys = [
    ...(await client.tufKeys(flags.key ?? [], gun)),
    ...(flags.cert ?? []).map(certKey),
  ];
  const paths = flags.allPaths ? [''] : flags.paths;
  const t = thresholdOption(flags.threshold, '--threshold');
  const { published } = await addDelegation({
    server: serverFrom(flags, io),
    gun,
    role,
    keys,
    signing: daemonSigning({ client }),
    ...(paths ? { paths } : {}),
    ...(t === undefined ? {} : { threshold: t }),
    ...(flags.docker ? { docker: true } : {}),
    ...retry,
  });
  const file = published[0];
  if (flags.json) {
    io.out(
      JSON.stringify({ gun, role, keyIds: keys.map((k) => k.id), version: file?.signed.version }),
    );
    return;
  }
  io.out(`${gun}: ${role} delegates to ${keys.map((k) => k.id).join(', ')}`);
  if (file) io.out(`published ${file.role} version ${file.signed.version}`);
}

export async function runDelegationRemove(
  gun: string,
  role: string,
  flags: DelegationFlags,
  io: Io,
): Promise<void> {
  const retry = retryOptions(flags);
  const client = daemonFrom(flags, io, retry);
  let keyIds: string[] | undefined;
  if (flags.key?.length) {
    const names = flags.key.filter((k) => !/^[0-9a-f]{64}$/.test(k));
    const byName = new Map((await client.tufKeys(names, gun)).map((key, i) => [names[i], key.id]));
    keyIds = flags.key.map((k) => byName.get(k) ?? k);
  }
  const { published } = await removeDelegation({
    server: serverFrom(flags, io),
    gun,
    role,
    signing: daemonSigning({ client }),
    ...(keyIds ? { keyIds } : {}),
    ...(flags.docker ? { docker: true } : {}),
    ...retry,
  });
  const file = published[0];
  if (flags.json) {
    io.out(
      JSON.stringify({ gun, role, removedKeyIds: keyIds ?? null, version: file?.signed.version }),
    );
    return;
  }
  io.out(keyIds ? `${gun}: removed ${keyIds.join(', ')} from ${role}` : `${gun}: removed ${role}`);
  if (file) io.out(`published ${file.role} version ${file.signed.version}`);
}

export async function runDelegationList(
  gun: string,
  flags: DelegationFlags,
  io: Io,
): Promise<void> {
  const repo = await readRepository(serverFrom(flags, io), gun);
  const views = listDelegations(repo);
  for (const w of repo.warnings) io.err(`warning: ${w}`);
  if (flags.json) {
    io.out(JSON.stringify(views));
    return;
  }
  if (views.length === 0) {
    io.out('No delegations present in this repository.');
    return;
  }
  io.out(
    table(
      ['ROLE', 'PATHS', 'KEY IDS', 'THRESHOLD'],
      views.map((v) => [
        v.role,
        v.paths.map((p) => (p === '' ? '""' : p)).join(',') || '(none)',
        v.keyIds.join(','),
        String(v.threshold),
      ]),
    ),
  );
}

export function registerDelegation(program: Command, io: Io): void {
  const cmd = program.command('delegation').description('manage the signers of a repository');
  const common = (c: Command): Command =>
    withRetryOptions(withSignerOptions(c))
      .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
      .option('--tlscacert <file>', 'CA certificate for the server')
      .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
      .option('--tlskey <file>', 'key of the client certificate, PEM')
      .option('--json', 'print JSON');
  common(
    cmd
      .command('add')
      .description('delegate a role to signers (or add signers to it)')
      .argument('<gun>')
      .argument('<role>', 'targets/<name>: one role per signer is the recommended shape')
      .option('--key <name...>', 'daemon keys (notary-hsm keys list)')
      .option('--cert <file...>', "signers' certificates (their private keys live elsewhere)")
      .option('--paths <prefix...>', 'target name prefixes the role may sign')
      .option('--all-paths', 'the role may sign any target name (the default for a new role)')
      .option('--threshold <n>', 'signatures the role needs (default 1)')
      .option('--docker', 'also keep targets/releases, as docker trust signer add does'),
  ).action((gun: string, role: string, flags: DelegationFlags) =>
    runDelegationAdd(gun, role, flags, io),
  );
  common(
    cmd
      .command('remove')
      .description('remove a role, or some of its keys (revoking what only they signed)')
      .argument('<gun>')
      .argument('<role>')
      .option('--key <name-or-id...>', 'only these keys (daemon key names or key IDs)')
      .option(
        '--docker',
        'also take the keys out of targets/releases, as docker trust signer remove does',
      ),
  ).action((gun: string, role: string, flags: DelegationFlags) =>
    runDelegationRemove(gun, role, flags, io),
  );
  cmd
    .command('list')
    .description('the delegations of a repository')
    .argument('<gun>')
    .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
    .option('--tlscacert <file>', 'CA certificate for the server')
    .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
    .option('--tlskey <file>', 'key of the client certificate, PEM')
    .option('--json', 'print JSON: one object per role with role, keyIds, paths, threshold')
    .action((gun: string, flags: DelegationFlags) => runDelegationList(gun, flags, io));
}
