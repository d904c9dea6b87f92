/**
 * `notary-hsm rotate GUN root|targets|targets/NAME|snapshot|timestamp`:
 *
 * - `root --root-key K… [--root-threshold N]`: new root certificates from notary-hsmd; the
 *   new root is signed by the old root's threshold and by the new keys;
 * - `targets --key K` and `targets/NAME --key K… [--threshold N]`: the role's new daemon
 *   keys, the role re-signed by them in the same publish;
 * - `snapshot` and `timestamp`: the server makes a new key, root lists it.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatRootChange, type RootChange } from '../../client/root-change';
import { rotateDelegation, rotateRoot, rotateServerKey, rotateTargets } from '../../client/rotate';
import { daemonSigning } from '../../client/signing';
import { NotaryHsmError } from '../../errors';
import { isDelegationRole } from '../../metadata/roles';
import { serverFrom, type Io, type ServerFlags } from '../context';
import { daemonFrom, withSignerOptions, type SignerFlags } from '../signer-context';
import { retryOptions, thresholdOption, withRetryOptions, type RetryFlags } from './flags';

interface RotateFlags extends ServerFlags, SignerFlags, RetryFlags {
  rootKey?: string[];
  rootThreshold?: string;
  key?: string[];
  threshold?: string;
  pinEnv?: string;
  saveChange?: string;
  json?: boolean;
}

/**
 * A root signed but not published is written to a root change file (the daemon will not
 * sign that version again): `root import` publishes it later, as it is.
 */
function keepSignedRoot(change: RootChange, file: string | undefined, io: Io): void {
  const version = change.proposed.version;
  const path = file ?? `${change.gun.replace(/[^A-Za-z0-9._-]+/g, '_')}.root-v${version}.json`;
  try {
    writeFileSync(path, formatRootChange(change), { flag: file ? 'w' : 'wx', mode: 0o644 });
  } catch (err) {
    io.err(
      `notary-hsm: root version ${version} was signed but not published, and could not be ` +
        `saved to ${path} (${err instanceof Error ? err.message : String(err)})`,
    );
    return;
  }
  io.err(
    `notary-hsm: root version ${version} of ${change.gun} was signed but not published; it is ` +
      `saved in ${path}. Once the server is reachable: notary-hsm root import ${path}`,
  );
}

function usage(message: string): NotaryHsmError {
  return new NotaryHsmError('USAGE', message);
}

export async function runRotate(
  gun: string,
  role: string,
  flags: RotateFlags,
  io: Io,
): Promise<void> {
  const retry = retryOptions(flags);
  const client = daemonFrom(flags, io, retry);
  const server = serverFrom(flags, io);
  const pin = flags.pinEnv ? io.env[flags.pinEnv] : undefined;
  const base = { server, gun, ...retry };
  let result;
  if (role === 'root') {
    if (!flags.rootKey?.length) throw usage('rotate root needs --root-key K… (the new root keys)');
    const threshold = thresholdOption(flags.rootThreshold, '--root-threshold');
    let signed: RootChange | undefined;
    try {
      result = await rotateRoot({
        ...base,
        signing: daemonSigning({ client, rootKey: flags.rootKey, ...(pin ? { pin } : {}) }),
        ...(threshold === undefined ? {} : { threshold }),
        // The first root signed is the next version; later attempts only sign past it.
        onSigned: (change) => (signed ??= change),
      });
    } catch (err) {
      if (signed) keepSignedRoot(signed, flags.saveChange, io);
      throw err;
    }
  } else if (role === 'targets' || isDelegationRole(role)) {
    if (!flags.key?.length) throw usage(`rotate ${role} needs --key K… (daemon keys)`);
    const keys = await client.tufKeys(flags.key, gun);
    const threshold = thresholdOption(flags.threshold, '--threshold');
    const signing = daemonSigning({ client, ...(pin ? { pin } : {}) });
    const extra = threshold === undefined ? {} : { threshold };
    result =
      role === 'targets'
        ? await rotateTargets({ ...base, signing, keys, ...extra })
        : await rotateDelegation({ ...base, signing, role, keys, ...extra });
  } else if (role === 'snapshot' || role === 'timestamp') {
    result = await rotateServerKey({
      ...base,
      role,
      signing: daemonSigning({ client, ...(pin ? { pin } : {}) }),
      rotate: () => server.rotateServerKey(gun, role),
    });
  } else {
    throw usage(
      `cannot rotate ${JSON.stringify(role)}: root, targets, targets/<name>, snapshot or timestamp`,
    );
  }
  const published = result.published.map((f) => ({ role: f.role, version: f.signed.version }));
  const rootKeyIds = [...result.repo.root.signed.role('root').keyIds];
  if (flags.json) {
    io.out(JSON.stringify({ gun, rotated: role, published, rootKeyIds }));
    return;
  }
  io.out(
    `rotated ${role} of ${gun}: published ${published.map((p) => `${p.role} version ${p.version}`).join(', ')}`,
  );
  if (role === 'root')
    io.out(`root certificate keys: ${rootKeyIds.join(', ')} (pin them to verify)`);
}

export function registerRotate(program: Command, io: Io): void {
  withRetryOptions(
    withSignerOptions(
      program
        .command('rotate')
        .description(
          'rotate the keys of a role (root, targets, targets/<name>, snapshot, timestamp)',
        )
        .argument('<gun>')
        .argument('<role>')
        .option('--root-key <name...>', 'rotate root: the new root keys (daemon key names)')
        .option('--root-threshold <k>', 'rotate root: how many new root keys must sign (default 1)')
        .option('--key <name...>', 'rotate targets or a delegation: its new daemon keys')
        .option('--threshold <n>', 'rotate a delegation: signatures it needs')
        .option('--pin-env <name>', 'environment variable holding a root token PIN (pin: request)')
        .option(
          '--save-change <file>',
          'rotate root: where to keep a root signed but not published (default ./GUN.root-vN.json)',
        )
        .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
        .option('--tlscacert <file>', 'CA certificate for the server')
        .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
        .option('--tlskey <file>', 'key of the client certificate, PEM')
        .option('--json', 'print JSON'),
    ),
  ).action((gun: string, role: string, flags: RotateFlags) => runRotate(gun, role, flags, io));
}
