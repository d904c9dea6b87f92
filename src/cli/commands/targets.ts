/**
 * Changing targets through the daemon: `sign GUN:TAG --digest sha256:HEX --size N
 * [--role R]` (the CI one-shot), `add GUN TAG=sha256:HEX:SIZE…` and `remove GUN TAG…`
 * (batches, also `--from-file`). Each fetches and verifies the current trust data,
 * applies the change, has the daemon sign and publishes in one step.
 *
 * Tags are taken exactly as given, whitespace included: in `TAG=sha256:HEX:SIZE` the tag
 * is everything before the last `=sha256:`; a --from-file line loses only its line break
 * and one trailing `\r`. Blank lines and lines starting with `#` are skipped, so a tag
 * that starts with `#` (or is only whitespace) must be passed as an argument. A tag Go
 * cannot write (empty, a control character, not UTF-8) is a usage error naming the spec,
 * for every command and source alike.
 */
import type { Command } from 'commander';
import { dockerRoles } from '../../client/docker';
import { updateTargets, type TargetChanges } from '../../client/targets-update';
import { daemonSigning } from '../../client/signing';
import { sha256Hex } from '../../metadata/keys';
import { isTargetsRole } from '../../metadata/roles';
import { TargetTexts } from '../../metadata/target-texts';
import { serverFrom, type Io, type ServerFlags } from '../context';
import { FIRST_LINES, TagFile } from '../tag-file';
import {
  checkTag,
  parseTagSpec,
  readTagFile,
  specLines,
  targetMeta,
  usage,
  type Spec,
} from '../tag-specs';
import { terminal } from '../tty';
import { daemonFrom, withSignerOptions, type SignerFlags } from '../signer-context';
import { retryOptions, withRetryOptions, type RetryFlags } from './flags';

export {
  checkTag,
  parseTagSpec,
  parseTagSpecs,
  specLines,
  targetMeta,
  type Spec,
} from '../tag-specs';

interface ChangeFlags extends ServerFlags, SignerFlags, RetryFlags {
  role?: string;
  fromFile?: string;
  json?: boolean;
  docker?: boolean;
}

function readSpecs(file: string | undefined): Spec[] {
  return file === undefined ? [] : specLines(readTagFile(file), file);
}

function specsOf(args: readonly string[], file: string | undefined): Spec[] {
  return [...args.map((text) => ({ text })), ...readSpecs(file)];
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
  changes: TargetChanges | Promise<TargetChanges>,
  flags: ChangeFlags,
  io: Io,
) {
  const bounds = retryOptions(flags);
  const client = daemonFrom(flags, io, bounds);
  const roles = flags.docker ? dockerRoles(role) : [role];
  const term = terminal(io, flags);
  const { published } = await updateTargets({
    server: serverFrom(flags, io),
    gun,
    roles,
    signing: daemonSigning({ client }),
    changes,
    ...bounds,
    progress: (step) => term.progress(step),
  }).finally(() => term.clearProgress());
  const { add, remove } = await changes;
  const file = published.find((f) => f.role === role);
  const version = file?.signed.version;
  if (flags.json)
    io.out(
      JSON.stringify({
        gun,
        role,
        version,
        // The published role file's SHA-256, as the snapshot lists it.
        ...(file ? { checksum: `sha256:${sha256Hex(file.bytes)}` } : {}),
        ...(flags.docker
          ? { roles: published.map((f) => ({ role: f.role, version: f.signed.version })) }
          : {}),
        added: [...(add?.keys() ?? [])],
        removed: remove ?? [],
      }),
    );
  else
    io.out(
      `published ${gun} ${published.map((f) => `${f.role} version ${f.signed.version}`).join(', ')}`,
    );
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
  const tag = checkTag(ref.slice(i + 1), { text: ref });
  await apply(
    gun,
    checkRole(flags.role),
    { add: new Map([[tag, targetMeta(flags.digest, flags.size)]]) },
    flags,
    io,
  );
}

/**
 * Tags from arguments and --from-file. A file is read and decoded first (a file that cannot
 * be read or is not UTF-8 fails before any request), its first lines parsed (a file of up
 * to FIRST_LINES lines is checked whole before any request, as arguments are); the rest is
 * parsed while the update reads the repository, and the change waits for it. A bad line
 * fails the command with the USAGE error it always had, once every request the update
 * started has ended.
 */
export async function runAdd(
  gun: string,
  specs: string[],
  flags: ChangeFlags,
  io: Io,
): Promise<void> {
  const add = new TargetTexts();
  const file = flags.fromFile === undefined ? undefined : TagFile.open(flags.fromFile, add);
  if (specs.length === 0 && file?.hasSpec() !== true)
    throw usage('nothing to add: give TAG=sha256:HEX:SIZE or --from-file');
  for (const text of specs) add.set(...parseTagSpec({ text }));
  file?.read(FIRST_LINES);
  let role: string;
  try {
    role = checkRole(flags.role);
  } catch (err) {
    file?.read(Infinity); // a bad tag is reported first, as it always was
    throw err;
  }
  if (file === undefined || file.done) {
    await apply(gun, role, { add }, flags, io);
    return;
  }
  const changes = file.readAll().then(() => ({ add }));
  await bothSettled(changes, apply(gun, role, changes, flags, io));
}

/**
 * Waits for both, then throws the first one's failure, else the second's: nothing either
 * started is still running when the caller goes on.
 */
async function bothSettled<T>(first: Promise<unknown>, second: Promise<T>): Promise<T> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return b.value;
}

export async function runRemove(
  gun: string,
  tags: string[],
  flags: ChangeFlags,
  io: Io,
): Promise<void> {
  const remove = specsOf(tags, flags.fromFile).map((spec) => checkTag(spec.text, spec));
  if (remove.length === 0) throw usage('nothing to remove');
  await apply(gun, checkRole(flags.role), { remove }, flags, io);
}

function common(cmd: Command): Command {
  return withRetryOptions(withSignerOptions(cmd))
    .option('-r, --role <role>', 'targets (default) or a delegation targets/<name>')
    .option(
      '--docker',
      'also write the change into targets/releases, the role docker pulls read (as docker trust sign)',
    )
    .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
    .option('--tlscacert <file>', 'CA certificate for the server')
    .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
    .option('--tlskey <file>', 'key of the client certificate, PEM')
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
      .option(
        '--from-file <file>',
        'one TAG=sha256:HEX:SIZE per line, taken exactly; blank lines and lines starting with # are skipped (give such a tag as an argument)',
      ),
  ).action((gun: string, specs: string[], flags: ChangeFlags) => runAdd(gun, specs, flags, io));
  common(
    program
      .command('remove')
      .description('remove tags in one publish')
      .argument('<gun>')
      .argument('[tags...]')
      .option(
        '--from-file <file>',
        'one tag per line, taken exactly; blank lines and lines starting with # are skipped (give such a tag as an argument)',
      ),
  ).action((gun: string, tags: string[], flags: ChangeFlags) => runRemove(gun, tags, flags, io));
}
