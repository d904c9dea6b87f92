/**
 * SoftHSM2 tokens in private directories — for the embedded default, tests and benches
 * alike: a softhsm2.conf of their own (one token directory per user of it: SoftHSM2's file
 * store is not meant for concurrent writers; the sign hosts of one token only read it)
 * and `softhsm2-util --init-token`. Errors name
 * the label and softhsm2-util's own words, never its arguments (they hold the PINs).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NotaryHsmError } from '../errors';

const DEFAULT_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** The SoftHSM2 PKCS#11 module (Debian package softhsm2). */
export function softHsmModule(): string {
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

/**
 * Writes `dir`/softhsm2.conf with token directory `dir`/tokens and initialises token
 * `label` in the first free slot; returns the configuration path (for SOFTHSM2_CONF).
 * throws: MODULE_ERROR when softhsm2-util fails
 */
export async function initSoftHsmToken(opts: {
  dir: string;
  label: string;
  pin: string;
  soPin: string;
}): Promise<string> {
  const tokenDir = join(opts.dir, 'tokens');
  await mkdir(tokenDir, { recursive: true, mode: 0o700 });
  const conf = join(opts.dir, 'softhsm2.conf');
  await writeFile(conf, softHsmConf(tokenDir), { mode: 0o600 });
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
    await promisify(execFile)('softhsm2-util', args, {
      env: { ...process.env, SOFTHSM2_CONF: conf },
    });
  } catch (err) {
    const stderr = ((err as { stderr?: string }).stderr ?? '').trim();
    throw new NotaryHsmError(
      'MODULE_ERROR',
      `softhsm2-util could not create token ${opts.label} in ${opts.dir} (is softhsm2 installed? make deps)${stderr ? `: ${stderr}` : ''}`,
    );
  }
  return conf;
}
