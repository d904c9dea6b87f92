/**
 * Repositories notary-hsm wrote through notary-hsmd (root key on a SoftHSM2 token, a
 * targets/ci delegation signed by the CI client) verify with their pinned root: the pin
 * comes from `root show`, whose certificate key ID is the one `init` reported. Two
 * repositories made with the same token root key have different root certificates but
 * one canonical root key ID, and `root show` groups them under it.
 */
import { createHash } from 'node:crypto';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { notaryCli, parseNotaryList } from '../../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../../helpers/notary-server';
import { runCli } from '../../helpers/run-cli';
import { makeTempDir } from '../../helpers/tmp';

const GUN = 'localhost:5000/e2e/verified';
const SECOND = 'localhost:5000/e2e/verified-too';

function digestOf(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

interface Shown {
  repositories: { gun: string; keys: { certificateKeyId: string; canonicalKeyId: string }[] }[];
  groups: { canonicalKeyIds: string[]; guns: string[] }[];
}

describe('verify a repository notary-hsm wrote through the daemon', () => {
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  const initIds = new Map<string, string>();

  const env = (token: string): NodeJS.ProcessEnv => ({
    NOTARY_HSM_SIGNER: daemon.url,
    NOTARY_HSM_SERVER: server.url,
    NOTARY_HSM_TOKEN: token,
  });

  beforeAll(async () => {
    server = await startNotaryServer();
    setup = await makeDaemonSetup();
    daemon = await startDaemonProcess(setup.config);
    for (const gun of [GUN, SECOND]) {
      const init = await runCli(
        [
          'init',
          gun,
          '--root-key',
          'root',
          '--delegation',
          'targets/ci',
          '--delegation-key',
          'ci',
          '--json',
        ],
        env(setup.adminToken),
      );
      expect(init.err).toBe('');
      expect(init.code).toBe(0);
      initIds.set(gun, (JSON.parse(init.out) as { rootKeyIds: string[] }).rootKeyIds[0]!);
    }
    const sign = await runCli(
      [
        'sign',
        `${GUN}:v1.4`,
        '--digest',
        `sha256:${digestOf('manifest v1.4')}`,
        '--size',
        '13',
        '--role',
        'targets/ci',
      ],
      env(setup.ciToken),
    );
    expect(sign.code).toBe(0);
  });
  afterAll(async () => {
    await daemon?.stop();
    await server?.stop();
  });

  it('root show reports the certificate ID init made, and one canonical root key for both repositories', async () => {
    const r = await runCli(['root', 'show', GUN, SECOND, '--server', server.url, '--json']);
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.out) as Shown;
    expect(shown.repositories.map((x) => x.keys[0]!.certificateKeyId)).toEqual([
      initIds.get(GUN),
      initIds.get(SECOND),
    ]);
    expect(initIds.get(GUN)).not.toBe(initIds.get(SECOND));
    expect(shown.groups).toEqual([
      { canonicalKeyIds: [shown.repositories[0]!.keys[0]!.canonicalKeyId], guns: [GUN, SECOND] },
    ]);
  });

  it('verifies the tag with the pinned root (certificate or canonical ID) and prints what notary lists', async () => {
    const shown = JSON.parse(
      (await runCli(['root', 'show', GUN, '--server', server.url, '--json'])).out,
    ) as Shown;
    const { certificateKeyId, canonicalKeyId } = shown.repositories[0]!.keys[0]!;
    const fresh = await notaryCli(server);
    const listed = parseNotaryList((await fresh.run(['list', GUN])).stdout);
    expect(listed).toEqual([
      { name: 'v1.4', digest: digestOf('manifest v1.4'), size: 13, role: 'targets/ci' },
    ]);
    for (const pin of [certificateKeyId, canonicalKeyId]) {
      const r = await runCli([
        'verify',
        `${GUN}:v1.4`,
        '--pin-root',
        pin,
        '--server',
        server.url,
        '--trust-dir',
        await makeTempDir('trust-'),
      ]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(`sha256:${digestOf('manifest v1.4')} 13 targets/ci`);
    }
  });

  it('no pin, a wrong pin, and the other repository’s certificate ID are refused', async () => {
    const base = ['--server', server.url, '--trust-dir', await makeTempDir('trust-')];
    const none = await runCli(['verify', `${GUN}:v1.4`, ...base]);
    expect(none.errorCode).toBe('ROOT_NOT_PINNED');
    const wrong = await runCli(['verify', `${GUN}:v1.4`, '--pin-root', 'cd'.repeat(32), ...base]);
    expect(wrong.errorCode).toBe('ROOT_PIN_MISMATCH');
    // A certificate is per GUN: the other repository's certificate ID does not pin this one.
    const other = await runCli([
      'verify',
      `${GUN}:v1.4`,
      '--pin-root',
      initIds.get(SECOND)!,
      ...base,
    ]);
    expect(other.errorCode).toBe('ROOT_PIN_MISMATCH');
    expect([none.out, wrong.out, other.out]).toEqual(['', '', '']);
  });
});
