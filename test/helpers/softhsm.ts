/**
 * SoftHSM2 tokens for tests, each in its own private directory (a softhsm2.conf plus a
 * token directory, as scripts softhsm/init-token.sh writes them). Point a process at a
 * token with `token.env` (SOFTHSM2_CONF); never let two processes share one token
 * directory — SoftHSM2's file store is not meant for concurrent writers.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
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

const DEFAULT_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

function findModule(): string {
  if (existsSync(DEFAULT_MODULE)) return DEFAULT_MODULE;
  try {
    const files = execFileSync('dpkg', ['-L', 'softhsm2'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return files.split('\n').find((f) => f.endsWith('/libsofthsm2.so')) ?? DEFAULT_MODULE;
  } catch {
    return DEFAULT_MODULE;
  }
}

/** The SoftHSM2 PKCS#11 module (Debian package softhsm2). */
export const SOFTHSM_MODULE: string = findModule();

/** softhsm2.conf for a private token directory. */
export function softHsmConf(tokenDir: string): string {
  return [
    `directories.tokendir = ${tokenDir}`,
    'objectstore.backend = file',
    'log.level = ERROR',
    'slots.removable = false',
    'slots.mechanisms = ALL',
    'library.reset_on_fork = false',
    '',
  ].join('\n');
}

/** Creates a private SoftHSM2 config and initializes token `label` in the first free slot. */
export async function createSoftHsmToken(opts: {
  label: string;
  pin: string;
  soPin: string;
  dir?: string;
}): Promise<SoftHsmToken> {
  recordTestPins(opts.pin, opts.soPin);
  const dir = opts.dir ?? (await makeTempDir('softhsm-'));
  const tokenDir = join(dir, 'tokens');
  await mkdir(tokenDir, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  await writeFile(conf, softHsmConf(tokenDir), { mode: 0o600 });
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const args = [
    '--init-token',
    '--free',
    '--label',
    opts.label,
    '--so-pin',
    opts.soPin,
    '--pin',
    opts.pin,
  ];
  try {
    await promisify(execFile)('softhsm2-util', args, { env });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    // the message names the label and softhsm2-util's own words, never the PINs
    throw new Error(
      `softhsm2-util --init-token failed for label ${opts.label} in ${dir}: ${stderr.trim()}`,
    );
  }
  return { label: opts.label, conf, dir, module: SOFTHSM_MODULE, env };
}
