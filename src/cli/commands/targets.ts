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
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { dockerRoles } from '../../client/docker';
import { updateTargets } from '../../client/targets-update';
import { daemonSigning } from '../../client/signing';
import { NotaryHsmError } from '../../errors';
import { FileMeta } from '../../metadata/file-meta';
import { sha256Hex } from '../../metadata/keys';
import { isTargetsRole } from '../../metadata/roles';
import { targetNameProblem } from '../../metadata/targets';
import { serverFrom, type Io, type ServerFlags } from '../context';
import { terminal } from '../tty';
import { daemonFrom, withSignerOptions, type SignerFlags } from '../signer-context';
import { retryOptions, withRetryOptions, type RetryFlags } from './flags';

interface ChangeFlags extends ServerFlags, SignerFlags, RetryFlags {
  role?: string;
  fromFile?: string;
  json?: boolean;
  docker?: boolean;
}

function usage(message: string): NotaryHsmError {
  return new NotaryHsmError('USAGE', message);
}

/** `sha256:<64 hex>` and a size → Docker-style FileMeta. */
export function targetMeta(digest: string, size: string): FileMeta {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (!m) throw usage(`digest ${JSON.stringify(digest)}: expected sha256:<64 lowercase hex>`);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size)))
    throw usage(`size ${JSON.stringify(size)}: expected bytes`);
  return FileMeta.sha256(Buffer.from(m[1] as string, 'hex'), Number(size));
}

/** One tag spec and where it was given (`--from-file F line N`, or nothing for an argument). */
export interface Spec {
  readonly text: string;
  /** The --from-file it is a line of, and the line's number. */
  readonly file?: string;
  readonly line?: number;
}

function where(spec: Spec): string {
  const from = spec.file === undefined ? '' : `--from-file ${spec.file} line ${spec.line}: `;
  return `${from}${JSON.stringify(spec.text)}`;
}

/**
 * `tag` if Go can write it as a target name (the metadata model's one check).
 * throws: USAGE naming the spec
 */
export function checkTag(tag: string, spec: Spec): string {
  const problem = targetNameProblem(tag);
  if (problem !== undefined) throw usage(`${where(spec)}: ${problem}`);
  return tag;
}

const SPEC_MARK = '=sha256:';
const WELL_FORMED_TAIL = /^([0-9a-f]{64}):(0|[1-9][0-9]{0,15})$/;

/**
 * `TAG=sha256:HEX:SIZE`, the tag being everything before the last `=sha256:`: the tag,
 * the digest in hex and the size.
 * throws: USAGE
 */
type TagParts = readonly [tag: string, hex: string, size: number];

function splitTagSpec(spec: Spec): TagParts {
  const i = spec.text.lastIndexOf(SPEC_MARK);
  const tail = i < 0 ? '' : spec.text.slice(i + SPEC_MARK.length);
  const ok = WELL_FORMED_TAIL.exec(tail);
  if (ok && Number.isSafeInteger(Number(ok[2]))) {
    // The common case in one test; anything else is parsed below, which names what is wrong.
    return [checkTag(spec.text.slice(0, i), spec), ok[1] as string, Number(ok[2])];
  }
  const m = i < 0 ? null : /^([0-9a-f]{64}):([0-9]+)$/.exec(tail);
  if (!m) throw usage(`${where(spec)}: expected TAG=sha256:HEX:SIZE`);
  const tag = checkTag(spec.text.slice(0, i), spec);
  return [tag, m[1] as string, targetMeta(`sha256:${m[1] as string}`, m[2] as string).length];
}

/**
 * `TAG=sha256:HEX:SIZE`, the tag being everything before the last `=sha256:`.
 * throws: USAGE
 */
export function parseTagSpec(spec: Spec): [string, FileMeta] {
  const [tag, hex, size] = splitTagSpec(spec);
  return [tag, FileMeta.sha256Hex(hex, size)];
}

/**
 * Every spec as parseTagSpec reads it (a tag given twice keeps its last digest), the
 * digests converted together (10,000 lines of a --from-file).
 * throws: USAGE
 */
export function parseTagSpecs(specs: readonly Spec[]): Map<string, FileMeta> {
  const parts = specs.map(splitTagSpec);
  const metas = FileMeta.sha256HexMany(
    parts.map((p) => p[1]),
    parts.map((p) => p[2]),
  );
  const out = new Map<string, FileMeta>();
  for (let k = 0; k < parts.length; k++) out.set((parts[k] as TagParts)[0], metas[k] as FileMeta);
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The entries of a --from-file's bytes: each line exactly as written, less the line
 * break and one trailing `\r`; blank lines and lines starting with `#` skipped; a
 * leading byte-order mark dropped.
 * throws: USAGE for a line that is not UTF-8
 */
export function specLines(bytes: Buffer, file: string): Spec[] {
  const start = bytes.subarray(0, 3).equals(BOM) ? 3 : 0;
  let whole: string;
  try {
    // One decoding for the file (a line break is never part of a UTF-8 sequence, so
    // its lines are the lines decoded one by one); the slow path names the bad line.
    whole = utf8.decode(bytes.subarray(start));
  } catch {
    return specLinesOneByOne(bytes, start, file);
  }
  const specs: Spec[] = [];
  const lines = whole.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let text = lines[i] as string;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() !== '' && !text.startsWith('#')) {
      specs.push({ text, file, line: i + 1 });
    }
  }
  return specs;
}

function specLinesOneByOne(bytes: Buffer, from0: number, file: string): Spec[] {
  const specs: Spec[] = [];
  let start = from0;
  for (let n = 1; start <= bytes.length; n++) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    let text: string;
    try {
      text = utf8.decode(bytes.subarray(start, end));
    } catch (cause) {
      throw new NotaryHsmError('USAGE', `--from-file ${file} line ${n}: not valid UTF-8`, {
        cause,
      });
    }
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.trim() !== '' && !text.startsWith('#')) specs.push({ text, file, line: n });
    start = end + 1;
  }
  return specs;
}

function readSpecs(file: string | undefined): Spec[] {
  if (file === undefined) return [];
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `cannot read --from-file ${file}`, { cause });
  }
  return specLines(bytes, file);
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
  changes: { add?: Map<string, FileMeta>; remove?: string[] },
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
        added: [...(changes.add?.keys() ?? [])],
        removed: changes.remove ?? [],
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

export async function runAdd(
  gun: string,
  specs: string[],
  flags: ChangeFlags,
  io: Io,
): Promise<void> {
  const all = specsOf(specs, flags.fromFile);
  if (all.length === 0) throw usage('nothing to add: give TAG=sha256:HEX:SIZE or --from-file');
  const add = parseTagSpecs(all);
  await apply(gun, checkRole(flags.role), { add }, flags, io);
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
