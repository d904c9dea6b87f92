/**
 * k-of-n roots and rotation, on real components: three root keys on three SoftHSM2 tokens
 * (stand-ins for YubiKeys held by three people) behind one notary-hsmd, a real
 * notary-server, and the stock notary CLI, both with a fresh trust directory and with one
 * that trusted the repository before each rotation (it must follow).
 *
 * - `init --root-key A B C --root-threshold 2`: root lists three certificates, threshold 2,
 *   and carries at least two valid signatures;
 * - `rotate root`, `rotate targets`, `rotate targets/ci`, `rotate timestamp`: after each,
 *   both stock clients list the same tags; the old delegation key can no longer sign.
 */
import { createHash } from 'node:crypto';
import { parseMetadata } from '../../src/metadata/signed';
import { verifySignature } from '../../src/metadata/verify';
import { NotaryServerClient } from '../../src/notary';
import { writeConfigVariant } from '../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import { notaryCli, parseNotaryList, type NotaryCli } from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { runCli } from '../helpers/run-cli';

const GUN = `localhost:5000/e2e/rotating-${Date.now().toString(36)}`;
const GUNS = ['localhost:5000/e2e/*'];
const digestOf = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('k-of-n roots and key rotation', () => {
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  let trusting: NotaryCli;

  beforeAll(async () => {
    server = await startNotaryServer();
    const root = (name: string, id: string, token?: string) => ({
      name,
      id,
      role: 'root' as const,
      guns: GUNS,
      ...(token ? { token } : {}),
    });
    setup = await makeDaemonSetup({
      ciPaths: ['**'],
      extraTokens: ['alice', 'bob', 'carol'],
      extraKeys: [
        root('root-a', '11', 'alice'),
        root('root-b', '12', 'bob'),
        root('root-c', '13', 'carol'),
        root('root-new', '14'),
        { name: 'targets2', id: '15', role: 'targets', guns: GUNS },
        {
          name: 'ci2',
          id: '16',
          role: 'delegation',
          guns: GUNS,
          delegation: { roles: ['targets/ci'], paths: ['**'] },
        },
      ],
    });
    const config = writeConfigVariant(setup, 'rotation.yaml', (doc) => {
      const admin = doc.clients.find((c) => c.name === 'admin');
      admin!.sign = [
        { kind: 'root', keys: ['root', 'root-a', 'root-b', 'root-c', 'root-new'], guns: GUNS },
        { kind: 'targets', keys: ['targets', 'targets2'], guns: GUNS },
        { kind: 'delegation', keys: ['ci2'], guns: GUNS, roles: ['targets/ci'], paths: ['**'] },
      ];
    });
    daemon = await startDaemonProcess(config);
    trusting = await notaryCli(server);
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
  async function ok(token: string, args: string[]) {
    const r = await run(token, args);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    return r;
  }
  const admin = (...args: string[]) => ok(setup.adminToken, args);
  async function bothList(): Promise<string[][]> {
    const fresh = await notaryCli(server);
    const lists = [];
    for (const cli of [fresh, trusting]) {
      lists.push(
        parseNotaryList((await cli.run(['list', GUN])).stdout)
          .map((t) => `${t.name} ${t.digest} ${t.role}`)
          .sort(),
      );
    }
    return lists;
  }
  const tag = (name: string) => `${name} ${digestOf(name)} targets/ci`;

  it('init with three root keys on three tokens and a threshold of 2', async () => {
    await admin(
      'init', GUN, '--root-key', 'root-a', 'root-b', 'root-c', '--root-threshold', '2',
      '--delegation', 'targets/ci', '--delegation-key', 'ci',
    ); // prettier-ignore
    const c = new NotaryServerClient({ url: server.url });
    const root = parseMetadata('root', await c.getCurrent(GUN, 'root'));
    c.close();
    const role = root.signed.role('root');
    expect(role.keyIds).toHaveLength(3);
    expect(role.threshold).toBe(2);
    const valid = root.signatures.filter((s) => {
      const key = root.signed.keys.get(s.keyid);
      return key !== undefined && verifySignature(key, s.method, root.message, s.sig);
    });
    expect(valid.length).toBeGreaterThanOrEqual(2);
    await ok(setup.ciToken, ['sign', `${GUN}:v1`, '--digest', `sha256:${digestOf('v1')}`, '--size', '2', '--role', 'targets/ci']); // prettier-ignore
    expect(await bothList()).toEqual([[tag('v1')], [tag('v1')]]);
  });

  it('rotate root: a client that trusted the old root follows, a fresh one too', async () => {
    const r = await admin('rotate', GUN, 'root', '--root-key', 'root-new', '--json');
    const out = JSON.parse(r.out) as { rootKeyIds: string[] };
    expect(out.rootKeyIds).toHaveLength(1);
    expect(await bothList()).toEqual([[tag('v1')], [tag('v1')]]);
  });

  it('rotate targets and rotate timestamp: both clients still list the tags', async () => {
    await admin('rotate', GUN, 'targets', '--key', 'targets2');
    expect(await bothList()).toEqual([[tag('v1')], [tag('v1')]]);
    await admin('rotate', GUN, 'timestamp');
    expect(await bothList()).toEqual([[tag('v1')], [tag('v1')]]);
  });

  it('rotate targets/ci: its tags stay, the old key can no longer sign', async () => {
    await admin('rotate', GUN, 'targets/ci', '--key', 'ci2');
    expect(await bothList()).toEqual([[tag('v1')], [tag('v1')]]);
    const old = await run(setup.ciToken, ['sign', `${GUN}:v2`, '--digest', `sha256:${digestOf('v2')}`, '--size', '2', '--role', 'targets/ci']); // prettier-ignore
    expect(old.code).toBe(1);
    expect(old.err).toMatch(/\[KEY_NOT_HELD\]/);
  });
});
