/**
 * The composite action (action.yml) run as the GitHub runner would run it, on a copy of
 * the repository's files (the action's checkout): its install step (`npm ci` from the
 * npm cache only, `npm_config_offline`, and the build), then its sign step with the
 * inputs a user's workflow gives, against a real notary-hsmd and notary-server on
 * 127.0.0.1. The stock `notary list` then shows the tag with its digest and size; the
 * outputs are the published version and the role file's checksum; the bearer token is
 * masked and appears in no log line, output or file left behind. Also: the action's
 * scripts expand no `${{ }}` themselves (inputs reach them only through env), and the
 * example workflow is well-formed and names only inputs the action has.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { readAction, runCompositeAction } from '../helpers/composite-action';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import { notaryCli, parseNotaryList } from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { runCli } from '../helpers/run-cli';
import { makeTempDir } from '../helpers/tmp';

const ROOT = join(__dirname, '..', '..');
const GUN = 'localhost:5000/e2e/action';
const DIGEST = `sha256:${createHash('sha256').update('manifest of v2.0.1').digest('hex')}`;

/** The repository's files as a checkout has them (tracked and new, not ignored). */
async function checkoutCopy(): Promise<string> {
  const dir = await makeTempDir('action-checkout-');
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((f) => f !== '');
  for (const f of files) {
    mkdirSync(join(dir, dirname(f)), { recursive: true });
    try {
      cpSync(join(ROOT, f), join(dir, f));
    } catch {
      // listed but deleted in the working tree: a checkout would not have it either
    }
  }
  return dir;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('the composite action', () => {
  const action = readAction(join(ROOT, 'action.yml'));

  it('passes inputs to its scripts only through env, and names only inputs it declares', () => {
    const used = new Set<string>();
    for (const step of action.runs.steps) {
      if (step.run !== undefined) {
        expect(step.shell).toBe('bash');
        expect(step.run).not.toContain('${{');
      }
      const text = JSON.stringify(step);
      for (const m of text.matchAll(/inputs\.([\w-]+)/g)) used.add(m[1] as string);
    }
    for (const name of used) expect(Object.keys(action.inputs)).toContain(name);
    // every input reaches a step
    expect([...used].sort()).toEqual(Object.keys(action.inputs).sort());
  });

  it('the example workflow parses and calls the action with its inputs, all required given', () => {
    const wf = parse(readFileSync(join(ROOT, 'docs', 'examples', 'sign-image.yml'), 'utf8')) as {
      jobs: Record<string, { steps: { uses?: string; with?: Record<string, string> }[] }>;
    };
    const steps = Object.values(wf.jobs).flatMap((j) => j.steps);
    const call = steps.find((s) => /\/notary-hsm@v\d+$/.test(s.uses ?? ''));
    expect(call?.with).toBeDefined();
    const given = Object.keys(call?.with ?? {});
    for (const name of given) expect(Object.keys(action.inputs)).toContain(name);
    for (const [name, spec] of Object.entries(action.inputs))
      if (spec.required) expect(given).toContain(name);
  });

  describe('run against a real daemon and notary-server', () => {
    let server: NotaryServer;
    let setup: DaemonSetup;
    let daemon: DaemonProcess;
    let checkout: string;

    beforeAll(async () => {
      [server, setup, checkout] = await Promise.all([
        startNotaryServer(),
        makeDaemonSetup(),
        checkoutCopy(),
      ]);
      daemon = await startDaemonProcess(setup.config);
      const init = await runCli(
        ['init', GUN, '--root-key', 'root', '--delegation', 'targets/ci', '--delegation-key', 'ci'],
        {
          NOTARY_HSM_SIGNER: daemon.url,
          NOTARY_HSM_SERVER: server.url,
          NOTARY_HSM_TOKEN: setup.adminToken,
        },
      );
      if (init.code !== 0) throw new Error(`init failed: ${init.err}`);
    });
    afterAll(async () => {
      await daemon?.stop();
      await server?.stop();
    });

    it('installs, signs GUN:TAG into targets/ci, outputs version and checksum, never shows the token', async () => {
      const token = setup.ciToken;
      const run = await runCompositeAction(
        checkout,
        {
          gun: GUN,
          tag: 'v2.0.1',
          digest: DIGEST,
          size: '1234',
          role: 'targets/ci',
          'signer-url': daemon.url,
          'signer-token': token,
          'server-url': server.url,
          'node-version': '',
        },
        { npm_config_offline: 'true' },
      );
      if (run.code !== 0) throw new Error(`the action failed:\n${run.log}`);
      expect(run.skipped).toEqual([expect.stringMatching(/^actions\/setup-node@[0-9a-f]{40}$/)]);

      // The stock notary CLI sees the tag, with the digest and size given.
      const listed = parseNotaryList((await (await notaryCli(server)).run(['list', GUN])).stdout);
      expect(listed).toEqual([
        expect.objectContaining({
          name: 'v2.0.1',
          digest: DIGEST.slice('sha256:'.length),
          size: 1234,
          role: 'targets/ci',
        }),
      ]);

      // Outputs: the role's version and the checksum of the file the server now serves.
      expect(run.outputs.role).toBe('targets/ci');
      expect(run.outputs.version).toMatch(/^[1-9]\d*$/);
      const served = Buffer.from(
        await (await fetch(`${server.url}/v2/${GUN}/_trust/tuf/targets/ci.json`)).arrayBuffer(),
      );
      expect(run.outputs.checksum).toBe(
        `sha256:${createHash('sha256').update(served).digest('hex')}`,
      );

      // The token: masked, in no log line, no output, no file left in the runner's temp.
      expect(run.masks).toContain(token);
      expect(run.log).not.toContain(token);
      expect(JSON.stringify(run.outputs)).not.toContain(token);
      for (const f of filesUnder(run.runnerTemp))
        expect(readFileSync(f, 'utf8')).not.toContain(token);
    }, 300_000);
  });
});
