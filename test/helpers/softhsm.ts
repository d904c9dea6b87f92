/**
 * SoftHSM2 tokens for tests, each in its own private directory (a softhsm2.conf plus a
 * token directory, as scripts softhsm/init-token.sh writes them). Point a process at a
 * token with `token.env` (SOFTHSM2_CONF); never let two processes write to one token
 * directory at once — SoftHSM2's file store is not meant for concurrent writers. Several
 * may sign from it (a TokenOwner's `signHosts`): its store re-reads its files on access.
 */
import { initSoftHsmToken, softHsmConf, softHsmModule } from '../../src/pkcs11/softhsm';
import { makeTempDir } from './tmp';
import { recordTestPins } from './pin-registry';

/** An initialized SoftHSM2 token in a private directory. */
export interface SoftHsmToken {
  readonly label: string;
  /** The softhsm2.conf path (the value of SOFTHSM2_CONF). */
  readonly conf: string;
  readonly dir: string;
  /** The PKCS#11 module to load. */
  readonly module: string;
  /** process.env plus SOFTHSM2_CONF, for child processes. */
  readonly env: NodeJS.ProcessEnv;
}

/** The SoftHSM2 PKCS#11 module (Debian package softhsm2). */
export const SOFTHSM_MODULE: string = softHsmModule();

export { softHsmConf };

/** Creates a private SoftHSM2 config and initializes token `label` in the first free slot. */
export async function createSoftHsmToken(opts: {
  label: string;
  pin: string;
  soPin: string;
  dir?: string;
}): Promise<SoftHsmToken> {
  recordTestPins(opts.pin, opts.soPin);
  const dir = opts.dir ?? (await makeTempDir('softhsm-'));
  const conf = await initSoftHsmToken({ dir, label: opts.label, pin: opts.pin, soPin: opts.soPin });
  return {
    label: opts.label,
    conf,
    dir,
    module: SOFTHSM_MODULE,
    env: { ...process.env, SOFTHSM2_CONF: conf },
  };
}
