/**
 * The chain verification of `list` over the reference repository captured from the real
 * notary 0.7.0: the listing equals what `notary list` printed, and every break in the
 * chain (a byte changed, an expired file, a root for another GUN, an under-signed
 * delegation, a file the snapshot does not pin) gets its typed answer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listTargets } from '../../../src/client/list';
import { readRepository } from '../../../src/client/reader';
import {
  flipByte,
  REFERENCE_GUN,
  REFERENCE_NOW,
  vector,
  VECTORS_DIR,
  type Stage,
} from '../../helpers/vectors';
import { MemoryTrustServer } from '../../helpers/memory-trust-server';

const ROLES = ['root', 'timestamp', 'snapshot', 'targets', 'targets/releases', 'targets/ci'];

function serverFor(stage: Stage): MemoryTrustServer {
  return new MemoryTrustServer(Object.fromEntries(ROLES.map((r) => [r, vector(stage, r)])));
}

function notaryListRows(): string[][] {
  const text = readFileSync(join(VECTORS_DIR, 'final-list.txt'), 'utf8');
  return text
    .trim()
    .split('\n')
    .slice(2)
    .map((l) => l.trim().split(/\s+/));
}

describe('readRepository + listTargets over the reference repository', () => {
  it('lists exactly what notary list printed for it', async () => {
    const repo = await readRepository(serverFor('final'), REFERENCE_GUN, { now: REFERENCE_NOW });
    const rows = listTargets(repo).map((t) => [
      t.name,
      t.digest.replace('sha256:', ''),
      String(t.size),
      t.role,
    ]);
    expect(rows).toEqual(notaryListRows());
    expect(repo.warnings).toEqual([]);
    expect([...repo.targets.keys()]).toEqual(['targets', 'targets/releases', 'targets/ci']);
  });

  it('fetches snapshot, targets and delegations by their pinned checksums', async () => {
    const server = serverFor('final');
    await readRepository(server, REFERENCE_GUN, { now: REFERENCE_NOW });
    expect(server.requests).toEqual([
      'current root',
      'current timestamp',
      'hash snapshot',
      'hash targets',
      'hash targets/releases',
      'hash targets/ci',
    ]);
  });

  describe('a role fetched early, by name (what an update is about to change)', () => {
    /** The reference server, answering `current` for `role` with `answer` (or failing). */
    function guessing(role: string, answer: Buffer | undefined): MemoryTrustServer {
      const server = serverFor('final');
      const current = server.getCurrent.bind(server);
      server.getCurrent = (gun: string, r: string): Promise<Buffer> => {
        if (r !== role) return current(gun, r);
        server.requests.push(`current ${r}`);
        return answer === undefined
          ? Promise.reject(new Error('unreachable'))
          : Promise.resolve(Buffer.from(answer));
      };
      return server;
    }

    const rows = async (server: MemoryTrustServer): Promise<string[]> => {
      const repo = await readRepository(server, REFERENCE_GUN, {
        now: REFERENCE_NOW,
        early: ['targets/ci'],
      });
      return listTargets(repo).map((t) => `${t.name} ${t.digest} ${t.role}`);
    };

    it('is used, not fetched again, when it is exactly the file the snapshot pins', async () => {
      const expected = await rows(serverFor('final'));
      const server = guessing('targets/ci', vector('final', 'targets/ci'));
      expect(await rows(server)).toEqual(expected);
      expect(server.requests).toContain('current targets/ci');
      expect(server.requests).not.toContain('hash targets/ci');
      // The snapshot too is asked for by name beside the timestamp, and used as it is pinned.
      expect(server.requests).toContain('current snapshot');
      expect(server.requests).not.toContain('hash snapshot');
    });

    it('drops a current snapshot that is not the one the timestamp pins', async () => {
      const expected = await rows(serverFor('final'));
      const older = vector('before-snapshot-rotation', 'snapshot');
      for (const answer of [older, Buffer.from('{}'), undefined]) {
        const server = guessing('snapshot', answer);
        expect(await rows(server)).toEqual(expected);
        expect(server.requests).toContain('hash snapshot');
      }
    });

    it('is dropped for the pinned file when it is another file, garbage or an error', async () => {
      const expected = await rows(serverFor('final'));
      const other = vector('final', 'targets/releases'); // another role's file: parses, pinned by nothing
      const flipped = flipByte(vector('final', 'targets/ci'), 40);
      for (const answer of [other, flipped, Buffer.from('{'), undefined]) {
        const server = guessing('targets/ci', answer);
        expect(await rows(server)).toEqual(expected);
        expect(server.requests).toContain('current targets/ci');
        expect(server.requests).toContain('hash targets/ci');
      }
    });

    it('never trusts an early file the snapshot does not pin: a forged one is not listed', async () => {
      // The snapshot pins the real file; a server answering a changed one by name is ignored.
      const forged = Buffer.from(
        vector('final', 'targets/ci').toString('utf8').replace('ci/build-42', 'ci/build-43'),
      );
      const server = guessing('targets/ci', forged);
      expect((await rows(server)).join('\n')).not.toContain('ci/build-43');
    });
  });

  it('a role filter keeps that subtree; a path-restricted delegation only lists inside its paths', async () => {
    const repo = await readRepository(serverFor('final'), REFERENCE_GUN, { now: REFERENCE_NOW });
    expect(listTargets(repo, ['targets/releases']).map((t) => t.name)).toEqual(['v1.1', 'v1.2']);
    expect(listTargets(repo, ['targets/ci']).map((t) => t.name)).toEqual(['ci/build-42']);
  });

  it('refuses a root whose certificate is for another GUN', async () => {
    await expect(
      readRepository(serverFor('final'), 'localhost:5000/demo/other', { now: REFERENCE_NOW }),
    ).rejects.toThrowWithCode('CERTIFICATE_INVALID');
  });

  it('refuses expired metadata', async () => {
    const later = new Date(REFERENCE_NOW.getTime() + 30 * 86_400_000); // timestamp lives 14 days
    await expect(
      readRepository(serverFor('final'), REFERENCE_GUN, { now: later }),
    ).rejects.toThrowWithCode('METADATA_EXPIRED');
  });

  it.each(['targets', 'snapshot', 'targets/releases'])(
    'refuses a %s whose bytes differ from its pin',
    async (role) => {
      const server = serverFor('final');
      const bytes = Buffer.from(server.files.get(role)!);
      // Same length, different content: the checksum lookup must not be what catches it.
      server.getByHash = (_g, r) =>
        Promise.resolve(r === role ? flipByte(Buffer.from(bytes), 40) : server.files.get(r)!);
      await expect(
        readRepository(server, REFERENCE_GUN, { now: REFERENCE_NOW }),
      ).rejects.toThrowWithCode('HASH_MISMATCH');
    },
  );

  it('refuses an older root whose snapshot key did not sign the current snapshot', async () => {
    const server = serverFor('final');
    server.files.set('root', vector('before-snapshot-rotation', 'root'));
    const err = await readRepository(server, REFERENCE_GUN, { now: REFERENCE_NOW }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'THRESHOLD_NOT_MET', details: { role: 'snapshot' } });
  });

  it('refuses a timestamp without a valid signature', async () => {
    const server = serverFor('final');
    const ts = JSON.parse(vector('final', 'timestamp').toString()) as { signatures: unknown[] };
    ts.signatures = [];
    server.files.set('timestamp', Buffer.from(JSON.stringify(ts)));
    const err = await readRepository(server, REFERENCE_GUN, { now: REFERENCE_NOW }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'THRESHOLD_NOT_MET', details: { role: 'timestamp' } });
  });
});
