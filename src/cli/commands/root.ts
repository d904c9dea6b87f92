/**
 * `notary-hsm root …`: commands about a repository's root. `root show GUN… [--pem]
 * [--json]` prints each repository's root certificates (subject CN, validity, PEM on
 * request), their certificate key IDs and the canonical root key IDs, and the threshold,
 * then which repositories share the same root key(s). It is the one explicit
 * trust-on-first-use step: what it prints comes from the server unverified, to be
 * compared out of band before it is pinned (`verify --pin-root`). Further subcommands
 * (the offline root ceremony) register on the same `root` command.
 */
import type { Command } from 'commander';
import { describeRoot, groupByRootKey, type RootInfo } from '../../client/root-info';
import { NotaryHsmError, isNotaryHsmError, type ErrorCode } from '../../errors';
import { serverFrom, type Io, type ServerFlags } from '../context';

interface ShowFlags extends ServerFlags {
  pem?: boolean;
  json?: boolean;
}

/** The trust-on-first-use warning every `root show` carries. */
export const TOFU_NOTE =
  'This is the one trust-on-first-use step: these IDs come from the server, unverified. ' +
  "Compare them with the repository owner's out of band (their `notary key list`, or " +
  "notary-hsmd's `keys list`) before pinning one with `notary-hsm verify GUN --pin-root <ID>`.";

interface Failure {
  gun: string;
  code: ErrorCode;
  message: string;
}

function human(info: RootInfo, pem: boolean): string[] {
  const lines = [
    `${info.gun}: root version ${info.version}, threshold ${info.threshold} of ${info.keys.length} root key(s), expires ${info.expires}`,
  ];
  info.keys.forEach((k, i) => {
    lines.push(
      `  root key ${i + 1} (${k.keytype})`,
      `    certificate key ID  ${k.certificateKeyId}  (root.json, notary trust_pinning.certs)`,
      `    canonical key ID    ${k.canonicalKeyId}  (notary key list, notary-hsmd keys)`,
      `    subject CN          ${JSON.stringify(k.subjectCn)}`,
      `    valid               ${k.notBefore} to ${k.notAfter}`,
    );
    if (k.problem) lines.push(`    problem             ${k.problem}`);
    if (pem && k.pem)
      lines.push(
        ...k.pem
          .trimEnd()
          .split('\n')
          .map((l) => `    ${l}`),
      );
  });
  if (info.problem) {
    lines.push(`  WARNING: this root does not verify on its own, do not pin it: ${info.problem}`);
  }
  return lines;
}

export async function runRootShow(guns: string[], flags: ShowFlags, io: Io): Promise<void> {
  if (guns.length === 0) throw new NotaryHsmError('USAGE', 'name at least one GUN');
  const server = serverFrom(flags, io);
  const infos: RootInfo[] = [];
  const failures: Failure[] = [];
  try {
    for (const gun of guns) {
      try {
        infos.push(await describeRoot(server, gun));
      } catch (err) {
        if (!isNotaryHsmError(err)) throw err;
        failures.push({ gun, code: err.code, message: err.message });
      }
    }
  } finally {
    server.close();
  }
  const groups = groupByRootKey(infos);
  if (flags.json) {
    io.out(
      JSON.stringify({
        note: TOFU_NOTE,
        repositories: infos.map((i) =>
          flags.pem ? i : { ...i, keys: i.keys.map(({ pem: _pem, ...k }) => k) },
        ),
        groups,
        failures,
      }),
    );
  } else {
    const lines = [TOFU_NOTE, ''];
    for (const info of infos) lines.push(...human(info, flags.pem === true), '');
    if (infos.length > 1) {
      lines.push('Root keys (canonical IDs) across these repositories:');
      for (const g of groups)
        lines.push(`  ${g.canonicalKeyIds.join(' + ')}: ${g.guns.join(', ')}`);
      lines.push(
        groups.length === 1
          ? `All ${infos.length} repositories share the same root key(s).`
          : `These ${infos.length} repositories use ${groups.length} different root key sets.`,
      );
    }
    io.out(lines.join('\n').trimEnd());
  }
  for (const f of failures) io.err(`${f.gun}: ${f.message} [${f.code}]`);
  const first = failures[0];
  if (first) {
    throw new NotaryHsmError(
      first.code,
      `could not read the root of ${failures.map((f) => f.gun).join(', ')}`,
      { details: { failures } },
    );
  }
  const bad = infos.filter((i) => i.problem !== undefined);
  if (bad.length > 0) {
    throw new NotaryHsmError(
      bad[0]?.problemCode ?? 'CERTIFICATE_INVALID',
      `the root of ${bad.map((i) => i.gun).join(', ')} does not verify on its own; do not pin it`,
      { details: { guns: bad.map((i) => i.gun) } },
    );
  }
}

/** The `root` command and its `show` subcommand; returns `root` for further subcommands. */
export function registerRoot(program: Command, io: Io): Command {
  const root = program
    .command('root')
    .description(
      "a repository's root: show it before pinning it, and change it in an offline ceremony",
    );
  root
    .command('show')
    .description(
      'print the root certificates, certificate and canonical key IDs and threshold of repositories (compare out of band before pinning)',
    )
    .argument('<guns...>', 'one or more GUNs')
    .option('-s, --server <url>', 'Notary server (env NOTARY_HSM_SERVER)')
    .option('--tlscacert <file>', 'CA certificate for the server')
    .option('--tlscert <file>', 'client certificate for the server, PEM (with --tlskey)')
    .option('--tlskey <file>', 'key of the client certificate, PEM')
    .option('--pem', 'also print each root certificate (PEM)')
    .option('--json', 'print JSON')
    .action((guns: string[], flags: ShowFlags) => runRootShow(guns, flags, io));
  return root;
}
