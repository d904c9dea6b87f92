/**
 * The stock notary CLI (Debian notary 0.7.0) for the benches: a private home, trust
 * directory and config per instance, throwaway passphrases for its file keys, stdin
 * closed. `stage` writes many target changes straight into the CLI's changelist, in the
 * format of one change the CLI itself staged (`notary addhash`), so that a publish of
 * 10,000 tags can be timed without 10,000 processes to stage them.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './daemon-setup';

/** Throwaway bench values; never real secrets. */
const PASSPHRASES = {
  NOTARY_ROOT_PASSPHRASE: 'bench-root-pass-0001',
  NOTARY_TARGETS_PASSPHRASE: 'bench-targets-pass-0001',
  NOTARY_SNAPSHOT_PASSPHRASE: 'bench-snapshot-pass-0001',
  NOTARY_DELEGATION_PASSPHRASE: 'bench-delegation-pass-0001',
};

export interface StockNotary {
  readonly trustDir: string;
  /** The command line (`notary` and its global flags) and environment of one run. */
  command(args: readonly string[]): { cmd: string; args: string[]; env: NodeJS.ProcessEnv };
  run(args: readonly string[]): Promise<string>;
  /** Stages `targets` (name → sha256 hex and length) in `gun`'s changelist for `role`. */
  stage(
    gun: string,
    targets: ReadonlyMap<string, { sha256: string; length: number }>,
  ): Promise<void>;
}

export async function stockNotary(serverUrl: string): Promise<StockNotary> {
  const home = await makeTempDir('notary-cli-');
  const trustDir = join(home, 'trust');
  mkdirSync(trustDir, { mode: 0o700 });
  const config = join(home, 'config.json');
  writeFileSync(
    config,
    `${JSON.stringify({ trust_dir: trustDir, remote_server: { url: serverUrl } })}\n`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const k of Object.keys(env)) if (k.startsWith('NOTARY_')) delete env[k];
  Object.assign(env, PASSPHRASES);
  const base = ['-c', config, '-s', serverUrl, '-d', trustDir];
  const command: StockNotary['command'] = (args) => ({
    cmd: 'notary',
    args: [...base, ...args],
    env,
  });
  const run: StockNotary['run'] = (args) =>
    new Promise((resolve, reject) => {
      const c = command(args);
      const child = spawn(c.cmd, c.args, {
        cwd: home,
        env: c.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0
          ? resolve(out)
          : reject(new Error(`notary ${args.join(' ')}: exit ${code}\n${out}`)),
      );
    });
  const stage: StockNotary['stage'] = async (gun, targets) => {
    const dir = join(trustDir, 'tuf', ...gun.split('/'), 'changelist');
    // One change staged by the CLI itself is the template for the others.
    await run(['addhash', gun, 'bench-template', '1', '--sha256', '0'.repeat(64)]);
    const [first] = readdirSync(dir).filter((f) => f.endsWith('.change'));
    if (!first) throw new Error(`notary addhash staged nothing in ${dir}`);
    const template = JSON.parse(readFileSync(join(dir, first), 'utf8')) as Record<string, unknown>;
    rmSync(join(dir, first)); // the template itself is not a bench tag
    const [stamp] = first.split('_');
    let n = 0;
    for (const [name, t] of targets) {
      const data = {
        length: t.length,
        hashes: { sha256: Buffer.from(t.sha256, 'hex').toString('base64') },
      };
      const change = {
        ...template,
        path: name,
        data: Buffer.from(JSON.stringify(data)).toString('base64'),
      };
      // The CLI applies changes in file-name order: keep its numbering, after the template.
      const seq = (BigInt(stamp ?? '0') + BigInt(++n)).toString().padStart(20, '0');
      writeFileSync(join(dir, `${seq}_bench-${n}.change`), JSON.stringify(change));
    }
  };
  return { trustDir, command, run, stage };
}
