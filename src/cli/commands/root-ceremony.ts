/**
 * The offline root ceremony on the command line (client/root-ceremony.ts):
 *
 * - `root export GUN --out FILE [--add-key K…] [--add-cert PEM…] [--remove-key ID…]
 *   [--root-threshold N] [--expires-days N] [--current ROOT_JSON]`: the unsigned change,
 *   printed as a diff against the current root (from the server, or from a root.json
 *   copied to an offline host with --current);
 * - `root cert GUN --key K [--out FILE]`: the root certificate notary-hsmd makes for its
 *   key K and GUN, for `export --add-cert` on another host;
 * - `root sign FILE [--key K…] [--dry-run]`: shows the change, has the local notary-hsmd
 *   sign it with the root keys of the change it holds, and writes the signatures into the
 *   file. It never contacts a Notary server;
 * - `root import FILE…`: gathers the signatures of every copy, and publishes once the
 *   current and the proposed root thresholds are met.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import {
  describeStatus,
  exportRootChange,
  fetchCurrentRoot,
  importRootChange,
  mergeRootChanges,
  signRootChange,
} from '../../client/root-ceremony';
import {
  changeStatus,
  formatRootChange,
  parseRootChange,
  type RootChange,
} from '../../client/root-change';
import { describeRootChange } from '../../client/root-diff';
import { NotaryHsmError } from '../../errors';
import { TufKey } from '../../metadata/keys';
import { certificatesFromPem } from '../../metadata/pem';
import { parseMetadata } from '../../metadata/signed';
import { serverFrom, type Io, type ServerFlags } from '../context';
import { daemonFrom, withSignerOptions, type SignerFlags } from '../signer-context';
import { retryOptions, thresholdOption, withRetryOptions, type RetryFlags } from './flags';

interface ExportFlags extends ServerFlags, SignerFlags {
  out: string;
  current?: string;
  addKey?: string[];
  addCert?: string[];
  removeKey?: string[];
  rootThreshold?: string;
  expiresDays?: string;
  pinEnv?: string;
  force?: boolean;
  json?: boolean;
}

interface CertFlags extends SignerFlags {
  key: string;
  out?: string;
  pinEnv?: string;
}

interface SignFlags extends SignerFlags {
  key?: string[];
  pinEnv?: string;
  dryRun?: boolean;
  json?: boolean;
}

interface ImportFlags extends ServerFlags, RetryFlags {
  json?: boolean;
}

function readFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `cannot read ${what} ${file}`, { cause });
  }
}

/** Replaces `file` whole (a crash leaves the old file or the new one, never half of one). */
function writeAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, file);
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `cannot write ${file}`, { cause });
  }
}

function pinFrom(flags: { pinEnv?: string }, io: Io): { pin?: string } {
  if (!flags.pinEnv) return {};
  const pin = io.env[flags.pinEnv];
  if (pin === undefined) {
    throw new NotaryHsmError('USAGE', `--pin-env ${flags.pinEnv}: that variable is not set`);
  }
  return { pin };
}

/** A certificate file as a root key: one PEM certificate. throws: USAGE, KEY_INVALID */
function certificateKey(file: string): TufKey {
  const certs = certificatesFromPem(readFile(file, 'certificate').toString('utf8'));
  if (certs.length !== 1) {
    throw new NotaryHsmError(
      'USAGE',
      `${file}: expected one PEM certificate, found ${certs.length} (make it with notary-hsm root cert)`,
    );
  }
  const key = TufKey.ecdsaX509(certs[0] as Buffer);
  key.certificate(); // throws KEY_INVALID for bytes that are not a certificate
  return key;
}

function daysOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,4}$/.test(value)) {
    throw new NotaryHsmError('USAGE', '--expires-days: expected 1 to 99999');
  }
  return Number(value);
}

function statusLines(change: RootChange): string[] {
  const status = changeStatus(change);
  return [
    ...describeStatus(status),
    status.complete
      ? 'Both thresholds are met: publish with `notary-hsm root import FILE…`.'
      : 'More signatures are needed: `notary-hsm root sign FILE` where the other root keys are.',
  ];
}

export async function runRootExport(gun: string, flags: ExportFlags, io: Io): Promise<void> {
  if (existsSync(flags.out) && !flags.force) {
    throw new NotaryHsmError('USAGE', `${flags.out} exists; pass --force to replace it`);
  }
  const pin = pinFrom(flags, io);
  const current = flags.current
    ? parseMetadata('root', readFile(flags.current, 'current root'), `in ${flags.current}`)
    : await (async () => {
        const server = serverFrom(flags, io);
        try {
          return await fetchCurrentRoot(server, gun);
        } finally {
          server.close();
        }
      })();
  const add = (flags.addCert ?? []).map(certificateKey);
  if (flags.addKey?.length) {
    const client = daemonFrom(flags, io);
    for (const key of flags.addKey) {
      const res = await client.rootCertificate({ gun, key, ...pin });
      add.push(TufKey.fromJson(res.publicKey, '/publicKey'));
    }
  }
  const threshold = thresholdOption(flags.rootThreshold, '--root-threshold');
  const expiresDays = daysOption(flags.expiresDays);
  const change = exportRootChange(gun, current, {
    add,
    remove: flags.removeKey ?? [],
    ...(threshold === undefined ? {} : { threshold }),
    ...(expiresDays === undefined ? {} : { expiresDays }),
  });
  const text = formatRootChange(change);
  parseRootChange(text, flags.out); // what sign and import will read: checked now
  writeAtomically(flags.out, text);
  const summary = describeRootChange(gun, current.signed, change.proposed);
  if (flags.json) {
    io.out(JSON.stringify({ gun, file: flags.out, summary, status: changeStatus(change) }));
    return;
  }
  io.out(
    [
      `wrote the unsigned root change to ${flags.out}:`,
      ...summary.map((l) => `  ${l}`),
      ...statusLines(change),
    ].join('\n'),
  );
}

export async function runRootCert(gun: string, flags: CertFlags, io: Io): Promise<void> {
  const client = daemonFrom(flags, io);
  const res = await client.rootCertificate({ gun, key: flags.key, ...pinFrom(flags, io) });
  const key = TufKey.fromJson(res.publicKey, '/publicKey');
  const pem = key.public.toString('utf8');
  if (flags.out) {
    writeAtomically(flags.out, pem);
    io.out(`wrote the root certificate of ${flags.key} for ${gun} to ${flags.out}`);
    io.out(`certificate key ID ${key.id}, canonical key ID ${key.canonicalId}`);
  } else {
    io.out(pem.trimEnd());
  }
}

export async function runRootSign(file: string, flags: SignFlags, io: Io): Promise<void> {
  const change = parseRootChange(readFile(file, 'root change'), file);
  const summary = describeRootChange(change.gun, change.current.signed, change.proposed);
  if (flags.dryRun) {
    if (flags.json) {
      io.out(JSON.stringify({ gun: change.gun, summary, status: changeStatus(change) }));
    } else {
      io.out([...summary, ...statusLines(change)].join('\n'));
    }
    return;
  }
  const client = daemonFrom(flags, io);
  const signed = await signRootChange(change, {
    client,
    ...(flags.key?.length ? { keys: flags.key } : {}),
    ...pinFrom(flags, io),
  });
  writeAtomically(file, formatRootChange(signed.change));
  if (flags.json) {
    io.out(
      JSON.stringify({
        gun: change.gun,
        file,
        summary,
        signedBy: signed.signedBy,
        status: changeStatus(signed.change),
      }),
    );
    return;
  }
  io.out(
    [
      ...summary,
      `signed by ${signed.signedBy.map((id) => id.slice(0, 12)).join(', ')}; wrote ${file}`,
      ...statusLines(signed.change),
    ].join('\n'),
  );
}

export async function runRootImport(files: string[], flags: ImportFlags, io: Io): Promise<void> {
  const change = mergeRootChanges(
    files.map((f) => ({ change: parseRootChange(readFile(f, 'root change'), f), source: f })),
  );
  const server = serverFrom(flags, io);
  let result;
  try {
    result = await importRootChange(change, { server, ...retryOptions(flags) });
  } finally {
    server.close();
  }
  const version = change.proposed.version;
  const rootKeyIds = [...change.proposed.role('root').keyIds];
  if (flags.json) {
    io.out(
      JSON.stringify({
        gun: change.gun,
        version,
        alreadyPublished: result.alreadyPublished,
        rootKeyIds,
      }),
    );
    return;
  }
  io.out(
    result.alreadyPublished
      ? `${change.gun}: root version ${version} was already published`
      : `${change.gun}: published root version ${version}`,
  );
  io.out(`root certificate keys: ${rootKeyIds.join(', ')} (pin them to verify)`);
}

/** `root export`, `root cert`, `root sign` and `root import`, on the `root` command. */
export function registerRootCeremony(root: Command, io: Io): void {
  withSignerOptions(
    root
      .command('export')
      .description(
        'write the next root (root keys added or removed, threshold, expiry) to a file, unsigned, and show what changes',
      )
      .argument('<gun>')
      .requiredOption('-o, --out <file>', 'the root change file to write')
      .option('--add-key <name...>', 'new root keys held by notary-hsmd (--signer)')
      .option('--add-cert <file...>', 'new root keys by certificate (from `root cert` elsewhere)')
      .option('--remove-key <id...>', 'root keys that leave (certificate or canonical key ID)')
      .option('--root-threshold <k>', 'root keys that must sign (default: unchanged)')
      .option('--expires-days <n>', 'the new root expires this many days from now (default 3650)')
      .option('--current <file>', 'the current root.json (offline), instead of the server')
      .option('--pin-env <name>', 'environment variable holding a root token PIN (pin: request)')
      .option('--force', 'replace --out if it exists')
      .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
      .option('--tlscacert <file>', 'CA certificate for the server')
      .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
      .option('--tlskey <file>', 'key of the client certificate, PEM')
      .option('--json', 'print JSON'),
  ).action((gun: string, flags: ExportFlags) => runRootExport(gun, flags, io));

  withSignerOptions(
    root
      .command('cert')
      .description('print the root certificate notary-hsmd makes for its key and a GUN')
      .argument('<gun>')
      .requiredOption('--key <name>', 'the daemon root key')
      .option('-o, --out <file>', 'write the PEM certificate to this file')
      .option('--pin-env <name>', 'environment variable holding a root token PIN (pin: request)'),
  ).action((gun: string, flags: CertFlags) => runRootCert(gun, flags, io));

  withSignerOptions(
    root
      .command('sign')
      .description(
        'show a root change and sign it with the root keys notary-hsmd holds (no Notary server is contacted)',
      )
      .argument('<file>', 'a root change file from `root export`')
      .option('--key <name...>', 'sign with these daemon keys only')
      .option('--pin-env <name>', 'environment variable holding a root token PIN (pin: request)')
      .option('--dry-run', 'only show the change and who has signed')
      .option('--json', 'print JSON'),
  ).action((file: string, flags: SignFlags) => runRootSign(file, flags, io));

  withRetryOptions(
    root
      .command('import')
      .description(
        'gather the signatures of root change files and publish the new root once both thresholds are met',
      )
      .argument('<files...>', 'copies of one root change, each signed by some of the keys')
      .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
      .option('--tlscacert <file>', 'CA certificate for the server')
      .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
      .option('--tlskey <file>', 'key of the client certificate, PEM')
      .option('--json', 'print JSON'),
  ).action((files: string[], flags: ImportFlags) => runRootImport(files, flags, io));
}
