/**
 * The embedded default: what `notary-hsmd` (and `make run`) uses when no configuration
 * file exists. On first start it creates, under ./var/ (or $NOTARY_HSM_VAR): a SoftHSM2
 * token with a random PIN in a 0600 file, three keys generated on it (root, targets and a
 * delegation key for `targets/ci` and `targets/releases`), a state directory, and a
 * configuration file naming them, with one admin client whose bearer token is printed
 * once and stored only as a hash.
 * A second start finds var/daemon.yaml and reuses everything.
 *
 * This is a development default: a SoftHSM2 token is itself a file, so its PIN file
 * beside it protects nothing that the token file does not. Production configurations put
 * keys on hardware and PINs in systemd credentials.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { TokenRegistry } from '../pkcs11/registry';
import { initSoftHsmToken } from '../pkcs11/softhsm';
import { hashToken, newClientToken } from '../policy/clients';
import { embeddedConfigFile } from './default-file';
import { loadConfig, type Config } from './load';

export const DEFAULT_LABEL = 'notary-hsm';
const DELEGATION_ROLES = ['targets/ci', 'targets/releases'];

export interface EmbeddedResult {
  readonly config: Config;
  readonly file: string;
  /** The admin client's token, only on the start that created it. */
  readonly adminToken?: string;
}

function digits(n: number): string {
  return [...randomBytes(n)].map((b) => String(b % 10)).join('');
}

/** Finds or creates the embedded default under `varDir`. */
export async function embeddedDefault(
  varDir: string = process.env.NOTARY_HSM_VAR ?? './var',
): Promise<EmbeddedResult> {
  const file = embeddedConfigFile(varDir);
  const dir = dirname(file);
  if (existsSync(file)) return { config: loadConfig(file), file };

  await mkdir(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const pin = digits(8);
  const soPin = digits(12);
  await writeFile(join(dir, 'secrets', 'token.pin'), `${pin}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'secrets', 'so.pin'), `${soPin}\n`, { mode: 0o600 });
  await initSoftHsmToken({ dir: join(dir, 'softhsm'), label: DEFAULT_LABEL, pin, soPin });

  const adminToken = newClientToken();
  const all = ['*'];
  const doc = {
    listen: '127.0.0.1:7468',
    state_dir: 'state',
    tokens: [
      {
        name: 'default',
        profile: 'softhsm2',
        label: DEFAULT_LABEL,
        pin: 'file:secrets/token.pin',
        environment: { SOFTHSM2_CONF: 'softhsm/softhsm2.conf' },
      },
    ],
    keys: [
      { name: 'root', token: 'default', label: 'root', id: '01', role: 'root', guns: all },
      { name: 'targets', token: 'default', label: 'targets', id: '02', role: 'targets', guns: all },
      {
        name: 'ci',
        token: 'default',
        label: 'ci',
        id: '03',
        role: 'delegation',
        guns: all,
        // targets/releases too: `sign --docker` writes both, as docker trust sign does.
        delegation: { roles: DELEGATION_ROLES, paths: ['**'] },
      },
    ],
    clients: [
      {
        name: 'admin',
        token_sha256: hashToken(adminToken),
        admin: true,
        sign: [
          { kind: 'root', keys: ['root'], guns: all },
          { kind: 'targets', keys: ['targets'], guns: all },
          { kind: 'delegation', keys: ['ci'], guns: all, roles: DELEGATION_ROLES, paths: ['**'] },
        ],
      },
    ],
  };
  const header = '# notary-hsmd embedded default, created on first start. Edit freely.\n';
  await writeFile(file + '.tmp', header + stringify(doc, { aliasDuplicateObjects: false }), {
    mode: 0o600,
  });
  const config = loadConfig(file + '.tmp');
  const registry = new TokenRegistry(config);
  try {
    for (const k of config.keys)
      await registry.generateKey(k.token, k.ref.label as string, k.ref.id as string);
  } finally {
    await registry.close();
  }
  await rename(file + '.tmp', file);
  return { config: loadConfig(file), file, adminToken };
}
