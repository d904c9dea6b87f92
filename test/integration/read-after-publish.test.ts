/**
 * After a publish, the update loop learns the repository from the new timestamp and
 * snapshot alone when they pin exactly our files and the files it already held
 * (client/reader.ts readAfterPublish), on a real notary-server. What it returns must be
 * what a full read returns, file for file; when anything else changed (another writer
 * published another role in between, or our file changes delegations) it reads the whole
 * repository instead.
 */
import { createHash } from 'node:crypto';
import { initRepository } from '../../src/client/publish';
import { readRepository, type TrustedRepository } from '../../src/client/reader';
import { localSigning, tufKeyOf } from '../../src/client/signing';
import { updateTargets } from '../../src/client/targets-update';
import type { TrustServer } from '../../src/client/trust-server';
import { FileMeta } from '../../src/metadata/file-meta';
import { NotaryServerClient } from '../../src/notary';
import { MemorySigner } from '../helpers/memory-signer';
import { startNotaryServer, type NotaryServer } from '../helpers/notary-server';

const GUN = 'localhost:5000/hsm/after-publish';
const meta = (s: string): FileMeta =>
  FileMeta.sha256(createHash('sha256').update(s).digest(), s.length);

/** A TrustServer that counts the requests made through it. */
function counting(server: TrustServer): TrustServer & { gets: string[] } {
  const gets: string[] = [];
  return {
    gets,
    getCurrent: (g, role, max, o) => (gets.push(role), server.getCurrent(g, role, max, o)),
    getByHash: (g, role, sha, max, o) => (gets.push(role), server.getByHash(g, role, sha, max, o)),
    getServerKey: (g, role) => server.getServerKey(g, role),
    publish: (g, files, o) => (gets.push('publish'), server.publish(g, files, o)),
  };
}

/** What was fetched after the last publish. */
const afterPublish = (gets: string[]): string[] => gets.slice(gets.lastIndexOf('publish') + 1);

function files(repo: TrustedRepository): Record<string, string> {
  const out: Record<string, string> = {
    root: repo.root.bytes.toString('hex'),
    timestamp: repo.timestamp.bytes.toString('hex'),
    snapshot: repo.snapshot.bytes.toString('hex'),
  };
  for (const [role, f] of repo.targets) out[role] = f.bytes.toString('hex');
  return out;
}

describe('the repository after a publish', () => {
  let server: NotaryServer;
  let client: NotaryServerClient;
  const root = new MemorySigner();
  const targets = new MemorySigner();
  const ci = new MemorySigner();
  const qa = new MemorySigner();
  const signing = localSigning({ rootSigner: root, targetsSigner: targets, signers: [ci, qa] });

  beforeAll(async () => {
    server = await startNotaryServer();
    client = new NotaryServerClient({ url: server.url });
    await initRepository({
      server: client,
      gun: GUN,
      signing,
      delegations: [
        { name: 'targets/ci', keyIds: [tufKeyOf(ci).id], threshold: 1, paths: [''] },
        { name: 'targets/qa', keyIds: [tufKeyOf(qa).id], threshold: 1, paths: [''] },
      ],
      delegationKeys: [tufKeyOf(ci), tufKeyOf(qa)],
    });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  it('is read from timestamp and snapshot alone, and equals a full read', async () => {
    // The role's first file is a new role in the snapshot (read whole); the next one is not.
    await updateTargets({
      server: client,
      gun: GUN,
      role: 'targets/ci',
      signing,
      changes: { add: new Map([['v0', meta('v0')]]) },
    });
    const s = counting(client);
    const { repo } = await updateTargets({
      server: s,
      gun: GUN,
      role: 'targets/ci',
      signing,
      changes: { add: new Map([['v1', meta('v1')]]) },
    });
    // One full read before the change; after it, timestamp and snapshot only (asked for
    // side by side: the snapshot by name, used because it is the one the timestamp pins).
    expect([...afterPublish(s.gets)].sort()).toEqual(['snapshot', 'timestamp']);
    expect(s.gets.filter((r) => r === 'targets/ci')).toHaveLength(1);
    expect(files(repo)).toEqual(files(await readRepository(client, GUN)));
    expect(repo.targets.get('targets/ci')?.signed.targets.has('v1')).toBe(true);
  });

  it('is read whole when another writer published another role in between', async () => {
    let raced = false;
    const racing: TrustServer = {
      ...client,
      getCurrent: (g, role, max, o) => client.getCurrent(g, role, max, o),
      getByHash: (g, role, sha, max, o) => client.getByHash(g, role, sha, max, o),
      getServerKey: (g, role) => client.getServerKey(g, role),
      publish: async (g, f, o) => {
        await client.publish(g, f, o);
        if (!raced) {
          raced = true; // right after ours lands, targets/qa changes too
          await updateTargets({
            server: client,
            gun: GUN,
            role: 'targets/qa',
            signing,
            changes: { add: new Map([['qa1', meta('qa1')]]) },
          });
        }
      },
    };
    const s = counting(racing);
    const { repo } = await updateTargets({
      server: s,
      gun: GUN,
      role: 'targets/ci',
      signing,
      changes: { add: new Map([['v2', meta('v2')]]) },
    });
    expect(raced).toBe(true);
    // The snapshot pinned a targets/qa it had not seen: the repository was read again, whole.
    expect(afterPublish(s.gets)).toEqual(
      expect.arrayContaining(['root', 'timestamp', 'snapshot', 'targets/qa']),
    );
    expect(files(repo)).toEqual(files(await readRepository(client, GUN)));
    expect(repo.targets.get('targets/qa')?.signed.targets.has('qa1')).toBe(true);
  });
});
