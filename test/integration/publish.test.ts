/**
 * Publishing against a real notary-server, read back by the stock notary CLI: a
 * repository created by the project (root certificate key, targets key, server-held
 * snapshot and timestamp keys) with targets whose names need escaping in file bytes,
 * then a second publish, then a removal. After each step `notary list` on a fresh trust
 * directory shows exactly the targets we hold, with their digests and sizes.
 */
import { createHash } from 'node:crypto';
import { FileMeta } from '../../src/metadata/file-meta';
import { localSigning } from '../../src/client/signing';
import { initRepository } from '../../src/client/publish';
import { updateTargets } from '../../src/client/targets-update';
import { listTargets } from '../../src/client/list';
import { readRepository } from '../../src/client/reader';
import { NotaryServerClient } from '../../src/notary';
import { MemorySigner } from '../helpers/memory-signer';
import { notaryCli, parseNotaryList } from '../helpers/notary-cli';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';

const GUN = 'localhost:5000/hsm/publish';

function target(content: string): FileMeta {
  const bytes = Buffer.from(content, 'utf8');
  return FileMeta.sha256(createHash('sha256').update(bytes).digest(), bytes.length);
}

function expected(
  entries: Record<string, FileMeta>,
): { name: string; digest: string; size: number; role: string }[] {
  return Object.entries(entries)
    .map(([name, m]) => ({
      name,
      digest: m.sha256Digest!.toString('hex'),
      size: m.length,
      role: 'targets',
    }))
    .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
}

async function notaryListFresh(
  server: NotaryServer,
  gun: string,
): Promise<ReturnType<typeof parseNotaryList>> {
  const cli = await notaryCli(server); // a fresh trust dir each time: nothing cached
  const { stdout } = await cli.run(['list', gun]);
  return parseNotaryList(stdout);
}

describe('publishing to a real notary-server, read by the stock notary CLI', () => {
  let server: NotaryServer;
  let client: NotaryServerClient;
  const rootSigner = new MemorySigner();
  const targetsSigner = new MemorySigner();

  beforeAll(async () => {
    server = await startNotaryServer();
    client = new NotaryServerClient({ url: server.url });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const first: Record<string, FileMeta> = {
    'a<b&c>é': target('escaped name'),
    'v1.0': target('app 1.0'),
    'ünïcødé/名前': target('non-ascii'),
    'x>y': target('greater'),
  };
  const second: Record<string, FileMeta> = { 'v2.0': target('app 2.0'), 'r&d': target('research') };

  it('creates a repository the notary CLI reads (empty targets)', async () => {
    const repo = await initRepository({
      server: client,
      gun: GUN,
      signing: localSigning({ rootSigner, targetsSigner }),
    });
    expect(repo.root.signed.version).toBe(1);
    expect(repo.root.signed.roleKeys('root')[0]!.keytype).toBe('ecdsa-x509');
    const cli = await notaryCli(server);
    const { stdout } = await cli.run(['list', GUN]);
    expect(stdout).toMatch(/No targets present in this repository/);
  });

  it('a second init of the same GUN is refused', async () => {
    await expect(
      initRepository({
        server: client,
        gun: GUN,
        signing: localSigning({ rootSigner, targetsSigner }),
      }),
    ).rejects.toThrowWithCode('REPOSITORY_EXISTS');
  });

  it('publishes targets with <, &, > and non-ASCII names that notary lists with the right digests', async () => {
    await updateTargets({
      server: client,
      gun: GUN,
      signing: localSigning({ signers: [targetsSigner] }),
      changes: { add: new Map(Object.entries(first)) },
    });
    expect(await notaryListFresh(server, GUN)).toEqual(expected(first));
    const raw = await client.getCurrent(GUN, 'targets');
    expect(raw.toString('utf8')).toContain('a\\u003cb\\u0026c\\u003eé');
  });

  it('a second publish adds targets with a higher version', async () => {
    const { repo, published } = await updateTargets({
      server: client,
      gun: GUN,
      signing: localSigning({ signers: [targetsSigner] }),
      changes: { add: new Map(Object.entries(second)) },
    });
    expect(repo.targets.get('targets')!.signed.version).toBe(3);
    expect(published.map((f) => [f.role, f.signed.version])).toEqual([['targets', 3]]);
    expect(await notaryListFresh(server, GUN)).toEqual(expected({ ...first, ...second }));
  });

  it('a removal publishes without the target, and our own list agrees with notary', async () => {
    await updateTargets({
      server: client,
      gun: GUN,
      signing: localSigning({ signers: [targetsSigner] }),
      changes: { remove: ['x>y'] },
    });
    const rest: Record<string, FileMeta> = { ...first, ...second };
    delete rest['x>y'];
    const fromNotary = await notaryListFresh(server, GUN);
    expect(fromNotary).toEqual(expected(rest));
    const ours = listTargets(await readRepository(client, GUN)).map((t) => ({
      ...t,
      digest: t.digest.slice(7),
    }));
    expect(ours).toEqual(fromNotary);
  });

  it('removing a target that is not there is refused and nothing is published', async () => {
    const before = await client.getCurrent(GUN, 'targets');
    await expect(
      updateTargets({
        server: client,
        gun: GUN,
        signing: localSigning({ signers: [targetsSigner] }),
        changes: { remove: ['nope'] },
      }),
    ).rejects.toThrowWithCode('TARGET_NOT_FOUND');
    expect((await client.getCurrent(GUN, 'targets')).equals(before)).toBe(true);
  });

  it('a signer that is not the targets key signs nothing', async () => {
    const stranger = new MemorySigner();
    await expect(
      updateTargets({
        server: client,
        gun: GUN,
        signing: localSigning({ signers: [stranger] }),
        changes: { add: new Map([['z', target('z')]]) },
      }),
    ).rejects.toThrowWithCode('INSUFFICIENT_SIGNATURES');
    expect(stranger.count).toBe(0);
  });
});
