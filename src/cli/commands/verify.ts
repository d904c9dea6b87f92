/**
 * `notary-hsm verify GUN[:TAG] --pin-root CERT_OR_KEYID… [--require-role targets/NAME…]`:
 * verification against pinned roots only. With a tag it prints exactly one trusted
 * digest (`sha256:<hex> <size> <role>`) or refuses, naming why and the candidates; with
 * a GUN alone it verifies the whole repository and prints how many targets it trusts.
 * How the root came to be trusted goes to stderr; `--json` prints one JSON object, for
 * a refusal too (and still exits 1).
 */
import type { Command } from 'commander';
import { listTargets } from '../../client/list';
import { trustedTarget } from '../../client/tag-lookup';
import { verifyPinned } from '../../client/verify';
import { NotaryHsmError } from '../../errors';
import { isTargetsRole } from '../../metadata/roles';
import { checkTargetName } from '../../metadata/targets';
import { serverFrom, type Io, type ServerFlags } from '../context';
import { terminal } from '../tty';
import { pinnedOptions, trustNote, withPinOptions, type PinFlags } from './pin-flags';

interface VerifyFlags extends ServerFlags, PinFlags {
  requireRole?: string[];
  json?: boolean;
}

/**
 * `GUN[:TAG]`: the tag is what follows the last `:`, unless that `:` comes before the
 * first `/` (the port of `host:5000/ns/app`, a GUN alone). A tag may hold `/` (Notary
 * target names may), not `:`. throws: USAGE
 */
export function splitReference(ref: string): { gun: string; tag?: string } {
  const i = ref.lastIndexOf(':');
  const slash = ref.indexOf('/');
  if (i < 0 || (slash >= 0 && i < slash)) return { gun: ref };
  if (i === 0 || i === ref.length - 1) {
    throw new NotaryHsmError('USAGE', `${JSON.stringify(ref)}: expected GUN or GUN:TAG`);
  }
  try {
    return { gun: ref.slice(0, i), tag: checkTargetName(ref.slice(i + 1)) };
  } catch (cause) {
    throw new NotaryHsmError('USAGE', `${JSON.stringify(ref)}: not a tag Notary can hold`, {
      cause,
    });
  }
}

export async function runVerify(ref: string, flags: VerifyFlags, io: Io): Promise<void> {
  const { gun, tag } = splitReference(ref);
  const required = flags.requireRole ?? [];
  for (const r of required) {
    if (!isTargetsRole(r)) {
      throw new NotaryHsmError(
        'USAGE',
        `--require-role ${JSON.stringify(r)}: expected targets or targets/<name> (lowercase)`,
      );
    }
  }
  if (required.length > 0 && tag === undefined) {
    throw new NotaryHsmError('USAGE', '--require-role needs a tag: GUN:TAG');
  }
  const opts = pinnedOptions(gun, flags, io);
  const server = serverFrom(flags, io);
  const term = terminal(io, flags);
  try {
    term.progress(`${gun}: fetching and verifying trust data`);
    const repo = await verifyPinned(server, gun, opts).finally(() => term.clearProgress());
    io.err(trustNote(repo, opts.from));
    for (const w of repo.warnings) io.err(`${term.yellow('warning:')} ${w}`);
    if (tag === undefined) {
      const targets = listTargets(repo);
      if (flags.json) {
        io.out(JSON.stringify({ trusted: true, gun, count: targets.length, targets }));
      } else {
        io.out(`${targets.length} trusted target(s) in ${gun}`);
      }
      return;
    }
    const t = trustedTarget(repo, tag, required);
    if (flags.json) io.out(JSON.stringify({ trusted: true, gun, ...t }));
    else io.out(`${t.digest} ${t.size} ${t.roles.join(',')}`);
  } catch (err) {
    if (flags.json && err instanceof NotaryHsmError) {
      io.out(
        JSON.stringify({
          trusted: false,
          gun,
          ...(tag === undefined ? {} : { name: tag }),
          code: err.code,
          message: err.message,
          details: err.details,
        }),
      );
    }
    throw err;
  } finally {
    server.close();
  }
}

export function registerVerify(program: Command, io: Io): void {
  withPinOptions(
    program
      .command('verify')
      .description(
        'verify a tag (or a whole repository) against pinned roots only: one trusted digest, or a refusal saying why',
      )
      .argument('<gun[:tag]>', 'e.g. registry.example.com/acme/api:v1.4'),
  )
    .option(
      '--require-role <roles...>',
      'every one of these roles must list the tag with the same digest',
    )
    .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
    .option('--tlscacert <file>', 'CA certificate for the server')
    .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
    .option('--tlskey <file>', 'key of the client certificate, PEM')
    .option('--json', 'print JSON (also for a refusal)')
    .action((ref: string, flags: VerifyFlags) => runVerify(ref, flags, io));
}
