/**
 * A repository that starts over, on real components. A GUN created through notary-hsmd is
 * deleted on the notary-server; creating it again is refused (the daemon remembers root
 * version 1) with a message naming the way out. `notary-hsm reset GUN` — admin only,
 * refused while the server still holds the GUN, audited — makes the daemon forget the
 * GUN's versions, after which `init` and `sign` work, the stock notary CLI lists the new
 * tag, and the acknowledgement survives a daemon restart. Other GUNs keep their versions.
 */
import { createHash } from 'node:crypto';
import { NotaryServerClient } from '../../../src/notary';
import { auditRecords, call, errorOf, targetsDoc } from '../../helpers/daemon-api';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { notaryCli, parseNotaryList } from '../../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../../helpers/notary-server';
import { runCli } from '../../helpers/run-cli';

const RUN = Date.now().toString(36);
const GUN = `localhost:5000/e2e/again-${RUN}`;
const OTHER = `localhost:5000/e2e/other-${RUN}`;
const digestOf = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('a repository deleted on the server and created again', () => {
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    server = await startNotaryServer();
    setup = await makeDaemonSetup({ ciPaths: ['**'] });
    daemon = await startDaemonProcess(setup.config);
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
  const init = () =>
    run(setup.adminToken, [
      'init',
      GUN,
      '--root-key',
      'root',
      '--delegation',
      'targets/ci',
      '--delegation-key',
      'ci',
    ]);
  const sign = (tag: string) =>
    run(setup.ciToken, [
      'sign',
      `${GUN}:${tag}`,
      '--digest',
      `sha256:${digestOf(tag)}`,
      '--size',
      '3',
      '--role',
      'targets/ci',
    ]);

  it('is refused with VERSION_ROLLBACK and told how to acknowledge it', async () => {
    expect((await init()).code).toBe(0);
    expect((await sign('one')).code).toBe(0);
    // another GUN, whose versions must survive the reset of the first
    const other = await call(daemon.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: OTHER, role: 'targets/ci', signed: targetsDoc(7, ['x']) },
    });
    expect(other.status).toBe(200);
    const notary = new NotaryServerClient({ url: server.url });
    await notary.deleteRepository(GUN);
    notary.close();
    const again = await init();
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/\[VERSION_ROLLBACK\]/);
    expect(again.err).toContain(`notary-hsm reset ${GUN}`);
  });

  it('reset: refused for a non-admin client and while the server holds the GUN', async () => {
    const ci = await run(setup.ciToken, ['reset', GUN]);
    expect([ci.code, /\[FORBIDDEN\]/.test(ci.err)]).toEqual([1, true]);
    const present = await run(setup.adminToken, ['reset', OTHER]);
    expect(present.code).toBe(0); // OTHER was never published: nothing on the server
    const res = await call(daemon.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: OTHER, role: 'targets/ci', signed: targetsDoc(7, ['x']) },
    });
    // OTHER was reset too (explicitly): version 7 may be signed again
    expect(res.status).toBe(200);
  });

  it('after reset, init and sign work, and the stock notary CLI lists the new tag', async () => {
    const r = await run(setup.adminToken, ['reset', GUN, '--json']);
    expect(r.err).toBe('');
    expect(JSON.parse(r.out)).toEqual({ gun: GUN, forgotten: 3 }); // root, targets, targets/ci
    expect((await init()).code).toBe(0);
    expect((await sign('two')).code).toBe(0);
    const listed = parseNotaryList((await (await notaryCli(server)).run(['list', GUN])).stdout);
    expect(listed.map((t) => t.name)).toEqual(['two']);
    const refused = await run(setup.adminToken, ['reset', GUN]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/\[REPOSITORY_EXISTS\]/);
  });

  it('the acknowledgement is audited and survives a restart; old versions stay refused', async () => {
    await daemon.stop();
    daemon = await startDaemonProcess(setup.config);
    // GUN's targets/ci is at version 1 again (signed after the reset): 1 is refused, 2 is not.
    const one = await call(daemon.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(1, ['y']) },
    });
    expect(errorOf(one).code).toBe('VERSION_ROLLBACK');
    const two = await call(daemon.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(2, ['y']) },
    });
    expect(two.status).toBe(200);
    const resets = (await auditRecords(setup.stateDir)).filter((r) => r.outcome === 'reset');
    expect(resets.map((r) => [r.gun, r.client, r.endpoint])).toEqual([
      [OTHER, 'admin', 'repositories/reset'],
      [GUN, 'admin', 'repositories/reset'],
    ]);
  });
});
