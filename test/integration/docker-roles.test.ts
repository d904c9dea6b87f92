/**
 * Tags that docker clients accept. `docker pull` with content trust reads only
 * `targets/releases` and `targets` (GetTargetByName(tag, "targets/releases", "targets")).
 * `notary-hsm init --docker` delegates `targets/releases` to the signer's key beside the
 * signer's own role, as `docker trust signer add` does, and `sign --docker` writes the tag
 * into both in one publish, as `docker trust sign` does. Checked with the stock notary
 * CLI listing exactly the roles docker reads; a plain `sign` into `targets/ci` is not
 * among them.
 */
import { createHash } from 'node:crypto';
import { writeConfigVariant } from '../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import { notaryCli, parseNotaryList } from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { runCli } from '../helpers/run-cli';

const GUN = `localhost:5000/e2e/docker-${Date.now().toString(36)}`;
const digestOf = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('--docker: signers docker pulls read', () => {
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    server = await startNotaryServer();
    setup = await makeDaemonSetup({ ciPaths: ['**'] });
    // The CI key signs its own role and targets/releases: its reach is both, and so is the
    // CI client's scope.
    const config = writeConfigVariant(setup, 'docker.yaml', (doc) => {
      const roles = ['targets/ci', 'targets/releases'];
      const ci = doc.keys.find((k) => k.name === 'ci');
      if (ci) ci.delegation = { roles, paths: ['**'] };
      const client = doc.clients.find((c) => c.name === 'ci');
      for (const s of client?.sign ?? []) s.roles = roles;
    });
    daemon = await startDaemonProcess(config);
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  function run(token: string, args: string[]) {
    return runCli(args, {
      NOTARY_HSM_SIGNER: daemon.url,
      NOTARY_HSM_SERVER: server.url,
      NOTARY_HSM_TOKEN: token,
    });
  }

  const sign = (tag: string, docker: boolean) =>
    run(setup.ciToken, [
      'sign',
      `${GUN}:${tag}`,
      '--digest',
      `sha256:${digestOf(tag)}`,
      '--size',
      String(tag.length),
      '--role',
      'targets/ci',
      ...(docker ? ['--docker'] : []),
    ]);

  async function stockList(roles?: string) {
    const n = await notaryCli(server);
    const out = (await n.run(['list', GUN, ...(roles ? ['--roles', roles] : [])])).stdout;
    return parseNotaryList(out);
  }

  it('init --docker delegates targets/ci and targets/releases to the same key', async () => {
    const r = await run(setup.adminToken, [
      'init',
      GUN,
      '--root-key',
      'root',
      '--delegation',
      'targets/ci',
      '--delegation-key',
      'ci',
      '--docker',
      '--json',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { delegations: string[] }).delegations).toEqual([
      'targets/ci',
      'targets/releases',
    ]);
  });

  it('sign --docker: the tag is in targets/releases, where docker pulls look', async () => {
    const r = await sign('v1.0', true);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/targets\/ci version 1, targets\/releases version 1/);
    expect(await stockList('targets/releases')).toEqual([
      { name: 'v1.0', digest: digestOf('v1.0'), size: 4, role: 'targets/releases' },
    ]);
  });

  it('a plain sign into targets/ci is not in a role docker reads', async () => {
    expect((await sign('v2.0', false)).code).toBe(0);
    expect((await stockList('targets/releases')).map((t) => t.name)).toEqual(['v1.0']);
    expect((await stockList()).map((t) => t.name).sort()).toEqual(['v1.0', 'v2.0']);
  });

  it('--docker is refused for a role that is not a direct delegation of targets', async () => {
    const r = await run(setup.ciToken, [
      'sign',
      `${GUN}:v3`,
      '--digest',
      `sha256:${digestOf('v3')}`,
      '--size',
      '2',
      '--role',
      'targets/ci/nested',
      '--docker',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/USAGE/);
  });
});
