/**
 * What the daemon sees, asked over its API (so a CI agent or an admin needs only a client
 * token, not the daemon's configuration):
 *
 * - `tokens [--json]`: each configured token's profile, presence, label, serial, PIN state;
 * - `keys list [--gun GUN] [--json]`: the keys this client may use, with their role and
 *   TUF key ID (the canonical key ID; a root key's certificate key ID differs, see
 *   `root cert`);
 * - `keys generate --token T --label L --role R [--id HEX] [--json]` (admin): a key made
 *   on the token, which never leaves it. The daemon signs with it once the configuration
 *   names it under `keys:`.
 */
import type { Command } from 'commander';
import { NotaryHsmError } from '../../errors';
import type { Io } from '../context';
import { daemonFrom, withSignerOptions, type SignerFlags } from '../signer-context';
import { table, tokensTable } from '../table';

interface ReadFlags extends SignerFlags {
  json?: boolean;
  gun?: string;
}

interface GenerateFlags extends SignerFlags {
  token: string;
  label: string;
  role: string;
  id?: string;
  json?: boolean;
}

const ROLES = ['root', 'targets', 'delegation'] as const;

export async function runTokens(flags: ReadFlags, io: Io): Promise<void> {
  const { tokens } = await daemonFrom(flags, io).tokens();
  if (flags.json) {
    io.out(JSON.stringify({ tokens }));
  } else {
    io.out(tokensTable(tokens));
  }
  for (const t of tokens) if (t.error) io.err(`${t.name}: ${t.error.message} [${t.error.code}]`);
  const bad = tokens.filter((t) => !t.present || t.error);
  if (bad.length > 0) {
    throw new NotaryHsmError(
      'TOKEN_NOT_PRESENT',
      `not usable: ${bad.map((t) => t.name).join(', ')}`,
      { details: { tokens: bad.map((t) => t.name) } },
    );
  }
}

export async function runKeysList(flags: ReadFlags, io: Io): Promise<void> {
  const { keys } = await daemonFrom(flags, io).keys(flags.gun);
  if (flags.json) {
    io.out(JSON.stringify({ keys }));
    return;
  }
  io.out(
    table(
      ['NAME', 'ROLE', 'TOKEN', 'CANONICAL KEY ID'],
      keys.map((k) => [k.name, k.role, k.token, k.keyId]),
    ),
  );
  if (keys.some((k) => k.role === 'root')) io.err(ROOT_ID_NOTE);
}

/** Why a root key's ID here is not the one init printed and root.json lists. */
const ROOT_ID_NOTE =
  'notary-hsm: root keys appear in root.json as certificates, under their certificate key ID ' +
  '(what init prints and verify --pin-root takes; notary-hsm root show GUN shows both)';

export async function runKeysGenerate(flags: GenerateFlags, io: Io): Promise<void> {
  const role = ROLES.find((r) => r === flags.role);
  if (!role) throw new NotaryHsmError('USAGE', `--role: one of ${ROLES.join(', ')}`);
  if (flags.id !== undefined && !/^([0-9a-f]{2}){1,32}$/.test(flags.id)) {
    throw new NotaryHsmError('USAGE', '--id is lowercase hex bytes (CKA_ID), e.g. 0a');
  }
  const { key } = await daemonFrom(flags, io).generateKey({
    token: flags.token,
    label: flags.label,
    role,
    ...(flags.id === undefined ? {} : { id: flags.id }),
  });
  if (flags.json) {
    io.out(JSON.stringify({ key }));
    return;
  }
  io.out(`generated ${key.name} on ${key.token}: TUF key ID ${key.keyId}`);
  io.out(
    `the daemon signs with it once its configuration lists it under keys: (label ${key.name}, role ${key.role}), after a restart`,
  );
}

export function registerKeys(program: Command, io: Io): void {
  withSignerOptions(
    program
      .command('tokens')
      .description("notary-hsmd's tokens: profile, presence, label, serial, PIN state")
      .option('--json', 'print JSON'),
  ).action((flags: ReadFlags) => runTokens(flags, io));
  const keys = program.command('keys').description('the keys notary-hsmd offers this client');
  withSignerOptions(
    keys
      .command('list')
      .description('the keys this client may use: name, role, token, TUF key ID')
      .option('--gun <gun>', 'only the keys this client may use for this GUN')
      .option('--json', 'print JSON'),
  ).action((flags: ReadFlags) => runKeysList(flags, io));
  withSignerOptions(
    keys
      .command('generate')
      .description('admin: make a key on a token (it never leaves the token)')
      .requiredOption('--token <name>', 'a configured token')
      .requiredOption('--label <label>', 'the key object label (CKA_LABEL)')
      .requiredOption('--role <role>', 'root, targets or delegation')
      .option('--id <hex>', 'the key object ID (CKA_ID)')
      .option('--json', 'print JSON'),
  ).action((flags: GenerateFlags) => runKeysGenerate(flags, io));
}
