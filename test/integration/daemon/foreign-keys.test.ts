/**
 * A repository whose keys are not the daemon's: the stock notary CLI created it (its
 * targets key and delegation keys are files in the CLI's trust dir, the snapshot key is
 * the server's). `notary-hsm add` and `sign` say that the repository's key is not one
 * notary-hsmd holds for the client, before any signature is asked for: exit 1 with
 * KEY_NOT_HELD, and the daemon's audit log holds nothing for that GUN (no version burnt,
 * no record claiming a signature).
 */
import { auditRecords } from '../../helpers/daemon-api';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { notaryCli, parseNotaryList, publishReferenceFlow } from '../../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../../helpers/notary-server';
import { makeTempDir } from '../../helpers/tmp';
import { runCli } from '../../helpers/run-cli';

const GUN = `localhost:5000/e2e/stock-${Date.now().toString(36)}`;

describe('a repository whose keys the daemon does not hold', () => {
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    server = await startNotaryServer();
    setup = await makeDaemonSetup({ ciPaths: ['**'] });
    daemon = await startDaemonProcess(setup.config);
    const stock = await notaryCli(server);
    await publishReferenceFlow(stock, GUN, await makeTempDir('stock-flow-'), 'snapshot-rotated');
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

  it('add into targets and sign into a delegation: KEY_NOT_HELD before anything is signed', async () => {
    const digest = `sha256:${'cd'.repeat(32)}`;
    const add = await run(setup.adminToken, ['add', GUN, `v9=${digest}:9`]);
    expect(add.code).toBe(1);
    expect(add.err).toMatch(/\[KEY_NOT_HELD\]/);
    expect(add.err).toMatch(/targets must be signed by 1 of [0-9a-f]{12}/);
    const sign = await run(setup.ciToken, [
      'sign',
      `${GUN}:v9`,
      '--digest',
      digest,
      '--size',
      '9',
      '--role',
      'targets/releases',
    ]);
    expect(sign.code).toBe(1);
    expect(sign.err).toMatch(/\[KEY_NOT_HELD\]/);
    const records = (await auditRecords(setup.stateDir)).filter((r) => r.gun === GUN);
    expect(records).toEqual([]);
    const listed = parseNotaryList((await (await notaryCli(server)).run(['list', GUN])).stdout);
    expect(listed.map((t) => t.name)).not.toContain('v9');
  });
});
