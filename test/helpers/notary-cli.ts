/**
 * Drives the stock `notary` CLI (Debian package notary 0.7.0) non-interactively against a
 * test notary-server: a private trust dir and config per instance, throwaway passphrases in
 * NOTARY_{ROOT,TARGETS,SNAPSHOT,DELEGATION}_PASSPHRASE, stdin closed unless input is given.
 * Also parses `notary list` tables, makes delegation keys with openssl, and replays
 * /work/shared/scripts/notary-flow.sh (init, targets, delegations, snapshot key rotation)
 * so tests can compare our reading and writing with the reference implementation's.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { NotaryServer } from './notary-server';
import { makeTempDir } from './tmp';

/** The notary CLI bound to one server and one private trust dir. */
export interface NotaryCli {
  readonly trustDir: string;
  run(
    args: string[],
    opts?: { input?: string; allowFailure?: boolean },
  ): Promise<{ stdout: string; stderr: string; code: number }>;
}

/** Throwaway test values; never real secrets. */
const PASSPHRASES = {
  NOTARY_ROOT_PASSPHRASE: 'test-root-pass-0001',
  NOTARY_TARGETS_PASSPHRASE: 'test-targets-pass-0001',
  NOTARY_SNAPSHOT_PASSPHRASE: 'test-snapshot-pass-0001',
  NOTARY_DELEGATION_PASSPHRASE: 'test-delegation-pass-0001',
};
const RUN_TIMEOUT_MS = 120_000;

function cliEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  for (const k of Object.keys(env)) if (k.startsWith('NOTARY_')) delete env[k];
  return { ...env, ...PASSPHRASES };
}

/** A notary CLI with a fresh trust dir, talking to `server` (trusting its CA for TLS). */
export async function notaryCli(server: NotaryServer): Promise<NotaryCli> {
  const home = await makeTempDir('notary-cli-');
  const trustDir = join(home, 'trust');
  await mkdir(trustDir, { mode: 0o700 });
  const config = join(home, 'config.json');
  await writeFile(
    config,
    JSON.stringify({ trust_dir: trustDir, remote_server: { url: server.url } }) + '\n',
  );
  const base = ['-c', config, '-s', server.url, '-d', trustDir];
  if (server.caFile) base.push('--tlscacert', server.caFile);
  const env = cliEnv(home);

  const run: NotaryCli['run'] = (args, opts = {}) =>
    new Promise((resolve, reject) => {
      const child = spawn('notary', [...base, ...args], {
        cwd: home,
        env,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(
          new Error(`cannot run notary (install it with scripts/install-deps.sh): ${err.message}`),
        );
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const rc = code ?? 128;
        if (rc === 0 || opts.allowFailure) return resolve({ stdout, stderr, code: rc });
        const why = signal ? `was killed by ${signal}` : `exited with code ${rc}`;
        reject(new Error(`notary ${args.join(' ')} ${why}:\n${stderr}${stdout}`));
      });
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
  return { trustDir, run };
}

/** One row of `notary list`. */
export interface ListedTarget {
  name: string;
  digest: string;
  size: number;
  role: string;
}

/**
 * Parses `notary list` output. The table is Go text/tabwriter output: every column starts
 * at the same rune offset on every line, and names may contain spaces, so the columns are
 * cut at the header's offsets, counted in code points (= Go runes), not split on spaces.
 */
export function parseNotaryList(stdout: string): ListedTarget[] {
  const lines = stdout.split('\n');
  const h = lines.findIndex((l) => /^NAME\s+DIGEST\s+SIZE \(BYTES\)\s+ROLE\s*$/.test(l));
  if (h < 0) {
    if (/No targets present/.test(stdout)) return [];
    throw new Error(`not the output of notary list:\n${stdout}`);
  }
  const header = lines[h] ?? '';
  const [digestAt, sizeAt, roleAt] = ['DIGEST', 'SIZE (BYTES)', 'ROLE'].map((c) =>
    header.indexOf(c),
  );
  const rows = lines
    .slice(h + 1)
    .filter((l) => l.trim() !== '' && !/^-+\s+-+\s+-+\s+-+\s*$/.test(l));
  return rows.map((line) => {
    const cps = Array.from(line);
    const cell = (from: number, to?: number): string => cps.slice(from, to).join('');
    const row = {
      name: cell(0, digestAt).trimEnd(),
      digest: cell(digestAt ?? 0, sizeAt).trim(),
      size: Number(cell(sizeAt ?? 0, roleAt).trim()),
      role: cell(roleAt ?? 0).trim(),
    };
    if (!/^[0-9a-f]{64}$/.test(row.digest) || !Number.isSafeInteger(row.size) || row.role === '') {
      throw new Error(`cannot parse notary list row ${JSON.stringify(line)}`);
    }
    return row;
  });
}

/** A P-256 key and self-signed certificate (CN = name) for a delegation, as notary-flow.sh. */
export async function makeDelegationKey(
  dir: string,
  name: string,
): Promise<{ keyFile: string; certFile: string }> {
  const base = join(dir, name.replace(/[^\w.-]/g, '_'));
  const keyFile = `${base}.key`;
  const certFile = `${base}.crt`;
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '365', '-subj', `/CN=${name}`, '-keyout', keyFile, '-out', certFile,
  ]); // prettier-ignore
  return { keyFile, certFile };
}

/** How far publishReferenceFlow goes (each stage includes the previous ones). */
export type FlowStage = 'plain' | 'delegations' | 'snapshot-rotated';

/** A target the flow published, with what `notary list` should show for it. */
export interface FlowTarget extends ListedTarget {
  file: string;
}

async function targetFile(
  workDir: string,
  gun: string,
  name: string,
  role: string,
): Promise<FlowTarget> {
  const file = join(workDir, `target-${name.replace(/[^\w.-]/g, '_')}`);
  const content = Buffer.from(`notary-hsm test target ${name} of ${gun}\n`, 'utf8');
  await writeFile(file, content);
  const digest = createHash('sha256').update(content).digest('hex');
  return { name, digest, size: content.length, role, file };
}

/**
 * Replays notary-flow.sh for `gun` with `cli`. plain: init, add v1.0, publish.
 * delegations: + targets/releases (all paths) and targets/ci (paths "ci/"), keys imported,
 * publish, v1.1 into releases and ci/build-42 into ci, publish. snapshot-rotated: + the
 * snapshot key handed to the server (`key rotate <gun> snapshot -r`), v1.2 into releases,
 * publish. Returns every target published, in order.
 */
export async function publishReferenceFlow(
  cli: NotaryCli,
  gun: string,
  workDir: string,
  stage: FlowStage,
): Promise<FlowTarget[]> {
  const published: FlowTarget[] = [];
  const add = async (name: string, role: string): Promise<void> => {
    const t = await targetFile(workDir, gun, name, role);
    await cli.run(['add', gun, name, t.file, ...(role === 'targets' ? [] : ['--roles', role])]);
    published.push(t);
  };

  await cli.run(['init', gun]);
  await add('v1.0', 'targets');
  await cli.run(['publish', gun]);
  if (stage === 'plain') return published;

  const releases = await makeDelegationKey(workDir, 'releases');
  const ci = await makeDelegationKey(workDir, 'ci');
  await cli.run(['delegation', 'add', gun, 'targets/releases', releases.certFile, '--all-paths']);
  await cli.run(['delegation', 'add', gun, 'targets/ci', ci.certFile, '--paths', 'ci/']);
  await cli.run(['key', 'import', releases.keyFile, '--role', 'targets/releases']);
  await cli.run(['key', 'import', ci.keyFile, '--role', 'targets/ci']);
  await cli.run(['publish', gun]);
  await add('v1.1', 'targets/releases');
  await add('ci/build-42', 'targets/ci');
  await cli.run(['publish', gun]);
  if (stage === 'delegations') return published;

  await cli.run(['key', 'rotate', gun, 'snapshot', '-r']);
  await add('v1.2', 'targets/releases');
  await cli.run(['publish', gun]);
  return published;
}
