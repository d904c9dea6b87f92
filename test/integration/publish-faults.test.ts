/**
 * Servers that fail, and other writers that move first, on real components: notary-hsmd
 * on SoftHSM2 (publish lease 3 s), a real notary-server behind a loopback proxy that
 * fails publishes on demand, and the stock notary CLI as another writer.
 *
 * - A 503, a reset before forwarding, a reset after the server stored the update, and a
 *   hang past the publish window: each `notary-hsm add` succeeds on retry, publishing
 *   exactly one new version.
 * - A server that fails every publish: the command gives up within --timeout with
 *   UPDATE_GAVE_UP; afterwards a plain `sign` in that role succeeds with no manual step.
 * - A validation error (400) is not retried and is reported with the server's message.
 * - Mixed writers: the stock CLI publishes into the same delegation between our fetch and
 *   our publish (made to happen by the proxy); notary-hsm retries and both tags are there.
 * - No tag published before is ever lost: the stock `notary list` holds all of them.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonClient } from '../../src/client/daemon-client';
import { initRepository } from '../../src/client/publish';
import { daemonSigning } from '../../src/client/signing';
import { TufKey } from '../../src/metadata/keys';
import { pemBlocks } from '../../src/metadata/pem';
import { parseMetadata } from '../../src/metadata/signed';
import { NotaryServerClient } from '../../src/notary';
import { daemonKeys } from '../helpers/daemon-api';
import { newClient, writeConfigVariant } from '../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import { startFaultProxy, type FaultProxy, type PublishAction } from '../helpers/fault-proxy';
import {
  makeDelegationKey,
  notaryCli,
  parseNotaryList,
  type NotaryCli,
} from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { makeTempDir } from '../helpers/tmp';
import { runCli } from '../helpers/run-cli';

const GUN = `localhost:5000/e2e/faults-${Date.now().toString(36)}`;
const digestOf = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('publishing through failures and other writers', () => {
  let server: NotaryServer;
  let proxy: FaultProxy;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  let sharerToken: string;
  let stock: NotaryCli;
  let work: string;
  const published = new Set<string>();

  beforeAll(async () => {
    server = await startNotaryServer();
    proxy = await startFaultProxy(server.url);
    work = await makeTempDir('faults-');
    setup = await makeDaemonSetup({
      ciPaths: ['**'],
      extraKeys: [
        {
          name: 'shared',
          id: '04',
          role: 'delegation',
          guns: ['localhost:5000/e2e/*'],
          delegation: { roles: ['targets/shared'], paths: ['**'] },
        },
      ],
    });
    const sharer = newClient('sharer', [
      {
        kind: 'delegation',
        keys: ['shared'],
        guns: ['localhost:5000/e2e/*'],
        roles: ['targets/shared'],
        paths: ['**'],
      },
    ]);
    sharerToken = sharer.token;
    const config = writeConfigVariant(setup, 'faults.yaml', (doc) => {
      doc.clients.push(sharer.entry);
      doc.policy = { publish_lease_seconds: 3 };
    });
    daemon = await startDaemonProcess(config);
    const keys = await daemonKeys(daemon.url, setup.adminToken);
    // targets/shared: the daemon's key, and a key of the stock CLI's (another writer).
    const stockKey = await makeDelegationKey(work, 'stock-writer');
    const stockCert = TufKey.ecdsaX509(
      pemBlocks(readFileSync(stockKey.certFile, 'utf8'), 'CERTIFICATE')[0]!,
    );
    const notary = new NotaryServerClient({ url: server.url });
    try {
      await initRepository({
        server: notary,
        gun: GUN,
        signing: daemonSigning({
          client: new DaemonClient({ url: daemon.url, token: setup.adminToken }),
          rootKey: 'root',
          targetsKey: 'targets',
        }),
        delegations: [
          { name: 'targets/ci', keyIds: [keys.get('ci')!.id], threshold: 1, paths: [''] },
          {
            name: 'targets/shared',
            keyIds: [keys.get('shared')!.id, stockCert.id],
            threshold: 1,
            paths: [''],
          },
        ],
        delegationKeys: [keys.get('ci')!, keys.get('shared')!, stockCert],
      });
    } finally {
      notary.close();
    }
    stock = await notaryCli(server);
    await stock.run(['key', 'import', stockKey.keyFile, '--role', 'targets/shared']);
  });
  afterAll(async () => {
    await daemon?.stop();
    await proxy?.close();
    await server?.stop();
  });

  function run(token: string, args: string[]) {
    return runCli(args, {
      NOTARY_HSM_SIGNER: daemon.url,
      NOTARY_HSM_SERVER: proxy.url,
      NOTARY_HSM_TOKEN: token,
    });
  }

  const add = (tag: string, extra: string[] = []) =>
    run(setup.ciToken, [
      'add',
      GUN,
      `${tag}=sha256:${digestOf(tag)}:${tag.length}`,
      '--role',
      'targets/ci',
      ...extra,
    ]);

  async function ciVersion(): Promise<number> {
    const c = new NotaryServerClient({ url: server.url });
    try {
      return parseMetadata('targets/ci', await c.getCurrent(GUN, 'targets/ci')).signed.version;
    } finally {
      c.close();
    }
  }

  async function stockList() {
    const fresh = await notaryCli(server);
    return parseNotaryList((await fresh.run(['list', GUN])).stdout);
  }

  function faultOnce(action: PublishAction): void {
    proxy.seen.length = 0;
    proxy.onPublish = (n) => (n === 0 ? action : 'forward');
  }

  it.each([
    ['a 503', '503'],
    ['a connection reset before the server saw it', 'reset-before'],
    ['a connection reset after the server stored it', 'reset-after'],
    ['a publish that hangs past the publish window', 'hang'],
  ] as const)(
    '%s: the command succeeds on retry and publishes one new version',
    async (_what, action) => {
      const before = await ciVersion().catch(() => 0);
      faultOnce(action);
      const tag = `v-${action}`;
      const r = await add(tag);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(proxy.seen[0]).toBe(action);
      published.add(tag);
      expect((await stockList()).map((t) => t.name).sort()).toEqual([...published].sort());
      const after = await ciVersion();
      // Reset after storing: the same version was stored once and recognised, not re-signed.
      if (action === 'reset-after') expect(after).toBe(before + 1);
      else expect(after).toBeGreaterThan(before);
    },
  );

  it('every publish failing: gives up within --timeout with UPDATE_GAVE_UP; then a plain sign succeeds', async () => {
    proxy.seen.length = 0;
    proxy.onPublish = () => '503';
    const started = Date.now();
    const r = await add('v-never', ['--timeout', '4']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\[UPDATE_GAVE_UP\]/);
    expect(r.err).toMatch(/Run the command again/);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(proxy.seen.length).toBeGreaterThan(1);
    proxy.onPublish = () => 'forward';
    const sign = await run(setup.ciToken, [
      'sign',
      `${GUN}:v-after`,
      '--digest',
      `sha256:${digestOf('v-after')}`,
      '--size',
      '7',
      '--role',
      'targets/ci',
    ]);
    expect(sign.err).toBe('');
    expect(sign.code).toBe(0);
    published.add('v-after');
    expect((await stockList()).map((t) => t.name).sort()).toEqual([...published].sort());
  });

  it("a validation error is not retried, and the server's message is shown", async () => {
    proxy.seen.length = 0;
    proxy.onPublish = () => ({
      status: 400,
      body:
        '{"errors":[{"code":"INVALID_UPDATE","message":"Update sent by the client is invalid.",' +
        '"detail":{"Name":"ErrBadTargets","Error":{"Msg":"test proxy says no"}}}]}\n',
    });
    const r = await add('v-invalid');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/test proxy says no/);
    expect(r.err).toMatch(/SERVER_INVALID_UPDATE/);
    expect(proxy.seen).toHaveLength(1);
    proxy.onPublish = () => 'forward';
  });

  it('mixed writers: the stock CLI publishes between our fetch and our publish; both tags are there', async () => {
    const file = join(work, 'stock-target');
    writeFileSync(file, 'published by the stock notary CLI\n');
    proxy.seen.length = 0;
    proxy.onPublish = (n) =>
      n === 0
        ? {
            before: async () => {
              await stock.run(['add', GUN, 'from-stock', file, '--roles', 'targets/shared', '-p']);
            },
          }
        : 'forward';
    const r = await run(sharerToken, [
      'add',
      GUN,
      `from-hsm=sha256:${digestOf('from-hsm')}:8`,
      '--role',
      'targets/shared',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(proxy.seen.length).toBe(2); // the first publish lost the race and was retried
    published.add('from-stock').add('from-hsm');
    const listed = await stockList();
    expect(listed.map((t) => t.name).sort()).toEqual([...published].sort());
    expect(listed.find((t) => t.name === 'from-hsm')?.role).toBe('targets/shared');
  });
});
