/**
 * Changing targets through the daemon: `sign GUN:TAG --digest sha256:HEX --size N
 * [--role R]` (the CI one-shot), `add GUN TAG=sha256:HEX:SIZE…` and `remove GUN TAG…`
 * (batches, also `--from-file`). Each fetches and verifies the current trust data,
 * applies the change, has the daemon sign and publishes in one step.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { updateTargets } from '../../client/publish';
import { daemonSigning } from '../../client/signing';
import { NotaryHsmError } from '../../errors';
import { FileMeta } from '../../metadata/file-meta';
import { isTargetsRole } from '../../metadata/roles';
import { serverFrom, type Io, type ServerFlags } from '../context';
import { daemonFrom, withSignerOptions, type SignerFlags } from '../signer-context';

interface ChangeFlags extends ServerFlags, SignerFlags {
  role?: string;
  fromFile?: string;
  json?: boolean;
}

function usage(message: string): NotaryHsmError {
  return new NotaryHsmError('USAGE', message);
}

/** `sha256:<64 hex>` and a size → Docker-style FileMeta. */
export function targetMeta(digest: string, size: string): FileMeta {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw usage(`digest ${JSON.stringify(digest)}: expected sha256:<64 lowercase hex>`);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size))
    throw usage(`size ${JSON.stringify(size)}: expected bytes`);
  return FileMeta.sha256(Buffer.from(m[1] as string, 'hex'), Number(size));
}

function checkRole(role: string | undefined): string {
  const r = role ?? 'targets';
  if (!isTargetsRole(r))
    throw usage(`--role ${JSON.stringify(r)}: expected targets or targets/<name>`);
  return r;
}

async function apply(
  gun: string,
  role: string,
  changes: { add?: Map<string, FileMeta>; remove?: string[] },
  flags: ChangeFlags,
  io: Io,
) {
  const client = daemonFrom(flags, io);
  const repo = await updateTargets({
    server: serverFrom(flags, io),
    gun,
    role,
    signing: daemonSigning({ client }),
    changes,
  });
  const version = repo.targets.get(role)?.signed.version;
  if (flags.json)
    io.out(
      JSON.stringify({
        gun,
        role,
        version,
        added: [...(changes.add?.keys() ?? [])],
        removed: changes.remove ?? [],
      }),
    );
  else io.out(`published ${gun} ${role} version ${version}`);
}

export async function runSign(
  ref: string,
  flags: ChangeFlags & { digest: string; size: string },
  io: Io,
): Promise<void> {
  const i = ref.lastIndexOf(':');
  if (i <= 0 || i === ref.length - 1 || ref.slice(i + 1).includes('/'))
    throw usage(`${JSON.stringify(ref)}: expected GUN:TAG`);
  const gun = ref.slice(0, i);
  const tag = ref.slice(i + 1);
  await apply(
    gun,
    checkRole(flags.role),
    { add: new Map([[tag, targetMeta(flags.digest, flags.size)]]) },
    flags,
    io,
  );
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `cannot read --from-file ${file}`, { cause });
  }
}

export async function runAdd(
  gun: string,
  specs: string[],
  flags: ChangeFlags,
  io: Io,
): Promise<void> {
  const all = [...specs, ...(flags.fromFile ? readLines(flags.fromFile) : [])];
  if (all.length === 0) throw usage('nothing to add: give TAG=sha256:HEX:SIZE or --from-file');
  const add = new Map<string, FileMeta>();
  for (const spec of all) {
    const m = /^(.+)=(sha256:[0-9a-f]{64}):([0-9]+)$/.exec(spec.replace(/\s+/g, ''));
    if (!m) throw usage(`${JSON.stringify(spec)}: expected TAG=sha256:HEX:SIZE`);
    add.set(m[1] as string, targetMeta(m[2] as string, m[3] as string));
  }
  await apply(gun, checkRole(flags.role), { add }, flags, io);
}

export async function runRemove(
  gun: string,
  tags: string[],
  flags: ChangeFlags,
  io: Io,
): Promise<void> {
  const remove = [...tags, ...(flags.fromFile ? readLines(flags.fromFile) : [])];
  if (remove.length === 0) throw usage('nothing to remove');
  await apply(gun, checkRole(flags.role), { remove }, flags, io);
}

function common(cmd: Command): Command {
  return withSignerOptions(cmd)
    .option('-r, --role <role>', 'targets (default) or a delegation targets/<name>')
    .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
    .option('--tlscacert <file>', 'CA certificate for the server')
    .option('--json', 'print JSON');
}

export function registerTargets(program: Command, io: Io): void {
  common(
    program
      .command('sign')
      .description('add or replace one tag and publish (the CI one-shot)')
      .argument('<gun:tag>', 'e.g. registry.example.com/acme/api:v1.4')
      .requiredOption('--digest <sha256:hex>', 'manifest digest')
      .requiredOption('--size <bytes>', 'manifest size'),
  ).action((ref: string, flags: ChangeFlags & { digest: string; size: string }) =>
    runSign(ref, flags, io),
  );
  common(
    program
      .command('add')
      .description('add or replace tags in one publish')
      .argument('<gun>')
      .argument('[tags...]', 'TAG=sha256:HEX:SIZE')
      .option('--from-file <file>', 'one TAG=sha256:HEX:SIZE per line'),
  ).action((gun: string, specs: string[], flags: ChangeFlags) => runAdd(gun, specs, flags, io));
  common(
    program
      .command('remove')
      .description('remove tags in one publish')
      .argument('<gun>')
      .argument('[tags...]')
      .option('--from-file <file>', 'one tag per line'),
  ).action((gun: string, tags: string[], flags: ChangeFlags) => runRemove(gun, tags, flags, io));
}
