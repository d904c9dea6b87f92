/**
 * Delegations managed after init, on real components (notary-hsmd on SoftHSM2, a real
 * notary-server, the stock notary CLI):
 *
 * - one role per signer (`delegation add … --key K --docker`): alice and bob each sign
 *   into their own role and into targets/releases; neither can sign into the other's role;
 * - a signer whose key lives elsewhere (`--cert`, with `--paths`): the stock notary CLI
 *   holds that key and signs into the role; both ways interoperate;
 * - a role with a threshold of 2 over two daemon keys;
 * - `delegation list --json`; removing a role or a key revokes it: the stock `notary list`
 *   no longer shows what only it signed.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TufKey } from '../../src/metadata/keys';
import { pemBlocks } from '../../src/metadata/pem';
import { readFileSync } from 'node:fs';
import { newClient, writeConfigVariant } from '../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import {
  makeDelegationKey,
  notaryCli,
  parseNotaryList,
  type NotaryCli,
} from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';
import { makeTempDir } from '../helpers/tmp';
import { runCli } from '../helpers/run-cli';

const GUN = `localhost:5000/e2e/signers-${Date.now().toString(36)}`;
const GUNS = ['localhost:5000/e2e/*'];
const digestOf = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('delegations after init', () => {
  let server: NotaryServer;
  let setup: DaemonSetup;
  let daemon: DaemonProcess;
  let stock: NotaryCli;
  let work: string;
  let devCert: TufKey;
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    server = await startNotaryServer();
    work = await makeTempDir('signers-');
    const signer = (name: string, id: string, roles: string[]) => ({
      name,
      id,
      role: 'delegation' as const,
      guns: GUNS,
      delegation: { roles, paths: ['**'] },
    });
    setup = await makeDaemonSetup({
      extraKeys: [
        signer('alice', '04', ['targets/alice', 'targets/releases']),
        signer('bob', '05', ['targets/bob', 'targets/releases']),
        signer('q1', '06', ['targets/qa']),
        signer('q2', '07', ['targets/qa']),
      ],
    });
    const scope = (keys: string[], roles: string[]) => [
      { kind: 'delegation', keys, guns: GUNS, roles, paths: ['**'] },
    ];
    const clients = [
      newClient('alice', scope(['alice'], ['targets/alice', 'targets/releases'])),
      newClient('bob', scope(['bob'], ['targets/bob', 'targets/releases'])),
      newClient('qa', scope(['q1', 'q2'], ['targets/qa'])),
    ];
    for (const c of clients) tokens.set(c.entry.name, c.token);
    const config = writeConfigVariant(setup, 'signers.yaml', (doc) =>
      doc.clients.push(...clients.map((c) => c.entry)),
    );
    daemon = await startDaemonProcess(config);
    const dev = await makeDelegationKey(work, 'dev');
    devCert = TufKey.ecdsaX509(pemBlocks(readFileSync(dev.certFile, 'utf8'), 'CERTIFICATE')[0]!);
    writeFileSync(join(work, 'dev.crt.path'), dev.certFile);
    stock = await notaryCli(server);
    await stock.run(['key', 'import', dev.keyFile, '--role', 'targets/dev']);
    const admin = await run(setup.adminToken, ['init', GUN, '--root-key', 'root']);
    expect(admin.err).toBe('');
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
  const admin = (...args: string[]) => run(setup.adminToken, args);
  const sign = (who: string, tag: string, role: string, docker = false) =>
    run(tokens.get(who) ?? '', [
      'sign',
      `${GUN}:${tag}`,
      '--digest',
      `sha256:${digestOf(tag)}`,
      '--size',
      String(tag.length),
      '--role',
      role,
      ...(docker ? ['--docker'] : []),
    ]);
  async function stockList(roles?: string): Promise<string[]> {
    const n = await notaryCli(server);
    const r = await n.run(['list', GUN, ...(roles ? ['--roles', roles] : [])]);
    return parseNotaryList(r.stdout)
      .map((t) => `${t.name} ${t.role}`)
      .sort();
  }

  it('adds one role per signer, docker-style, a certificate signer with paths, and a 2-of-2 role', async () => {
    for (const args of [
      ['delegation', 'add', GUN, 'targets/alice', '--key', 'alice', '--docker'],
      ['delegation', 'add', GUN, 'targets/bob', '--key', 'bob', '--docker'],
      [
        'delegation',
        'add',
        GUN,
        'targets/dev',
        '--cert',
        readFileSync(join(work, 'dev.crt.path'), 'utf8'),
        '--paths',
        'dev/',
      ],
      ['delegation', 'add', GUN, 'targets/qa', '--key', 'q1', '--key', 'q2', '--threshold', '2'],
    ]) {
      const r = await admin(...args);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
    }
    const list = await admin('delegation', 'list', GUN, '--json');
    const views = JSON.parse(list.out) as {
      role: string;
      keyIds: string[];
      paths: string[];
      threshold: number;
    }[];
    const byRole = new Map(views.map((v) => [v.role, v]));
    expect([...byRole.keys()].sort()).toEqual([
      'targets/alice',
      'targets/bob',
      'targets/dev',
      'targets/qa',
      'targets/releases',
    ]);
    expect(byRole.get('targets/releases')?.keyIds).toHaveLength(2);
    expect(byRole.get('targets/dev')).toEqual({
      role: 'targets/dev',
      keyIds: [devCert.id],
      paths: ['dev/'],
      threshold: 1,
    });
    expect(byRole.get('targets/qa')?.threshold).toBe(2);
  });

  it('each signer signs its own role (and releases); none can sign into another signer’s role', async () => {
    expect((await sign('alice', 'v1', 'targets/alice', true)).code).toBe(0);
    expect((await sign('bob', 'v2', 'targets/bob', true)).code).toBe(0);
    const crossed = await sign('bob', 'v1', 'targets/alice');
    expect(crossed.code).toBe(1);
    expect(crossed.err).toMatch(/\[KEY_NOT_HELD\]/);
    expect((await sign('qa', 'qa-1', 'targets/qa')).code).toBe(0);
    // the stock CLI, holding the dev key, signs into targets/dev
    const file = join(work, 'dev-build');
    writeFileSync(file, 'a developer build\n');
    await stock.run(['add', GUN, 'dev/build-1', file, '--roles', 'targets/dev', '-p']);
    expect(await stockList()).toEqual([
      'dev/build-1 targets/dev',
      'qa-1 targets/qa',
      'v1 targets/alice',
      // the walk meets targets/releases (delegated when alice was added) before targets/bob
      'v2 targets/releases',
    ]);
    expect(await stockList('targets/releases')).toEqual([
      'v1 targets/releases',
      'v2 targets/releases',
    ]);
  });

  it('removing a role or a key revokes what only it signed', async () => {
    const bob = await admin('delegation', 'remove', GUN, 'targets/bob', '--docker');
    expect(bob.err).toBe('');
    expect(bob.code).toBe(0);
    const dev = await admin('delegation', 'remove', GUN, 'targets/dev', '--key', devCert.id);
    expect(dev.code).toBe(0);
    const qa = await admin('delegation', 'remove', GUN, 'targets/qa', '--key', 'q2');
    expect(qa.code).toBe(0);
    // qa keeps q1 (threshold lowered to 1) but its file was signed by both: still valid.
    const listed = await stockList();
    // targets/releases was last signed by bob's key, now revoked: the whole file is skipped
    expect(listed.filter((t) => t.startsWith('v2 '))).toEqual([]);
    expect(listed).not.toContain('dev/build-1 targets/dev');
    expect(listed).toContain('v1 targets/alice');
    const views = JSON.parse((await admin('delegation', 'list', GUN, '--json')).out) as {
      role: string;
      keyIds: string[];
      threshold: number;
    }[];
    expect(views.map((v) => v.role).sort()).toEqual([
      'targets/alice',
      'targets/qa',
      'targets/releases',
    ]);
    expect(views.find((v) => v.role === 'targets/releases')?.keyIds).toHaveLength(1);
    expect(views.find((v) => v.role === 'targets/qa')).toMatchObject({ threshold: 1 });
  });
});
