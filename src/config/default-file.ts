/**
 * Which configuration file notary-hsmd reads when no `--config` is given, the same for
 * every subcommand (`serve`, `tokens`, `keys list`, `keys generate`): the system file
 * /etc/notary-hsm/daemon.yaml when it exists, else the embedded default's file,
 * daemon.yaml under $NOTARY_HSM_VAR (default ./var), which the first `serve` creates.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NotaryHsmError } from '../errors';

export const DEFAULT_CONFIG = '/etc/notary-hsm/daemon.yaml';

/** The embedded default's configuration file (it may not exist yet). */
export function embeddedConfigFile(varDir: string = process.env.NOTARY_HSM_VAR ?? './var'): string {
  return join(resolve(varDir), 'daemon.yaml');
}

/** The file to read without --config, or undefined when only the embedded default may be made. */
export function defaultConfigFile(): string | undefined {
  if (existsSync(DEFAULT_CONFIG)) return DEFAULT_CONFIG;
  const embedded = embeddedConfigFile();
  return existsSync(embedded) ? embedded : undefined;
}

/**
 * The file an administration command reads: --config, else the default serve reads.
 * throws: CONFIG_INVALID when there is none yet (it does not create the embedded default)
 */
export function adminConfigFile(flag: string | undefined): string {
  if (flag) return flag;
  const file = defaultConfigFile();
  if (file) return file;
  throw new NotaryHsmError(
    'CONFIG_INVALID',
    `no configuration: neither ${DEFAULT_CONFIG} nor the embedded default ${embeddedConfigFile()} ` +
      'exists (the first notary-hsmd serve creates the embedded default); pass --config FILE',
  );
}
