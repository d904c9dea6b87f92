/**
 * The update loop's decisions, against a simulated Notary server (stores a role's version
 * only above the stored one) and a simulated daemon (hands out each version once; its
 * rollback refusals say the last version, how long ago, and the lease):
 *
 * - concurrent writers of one role all land, and no writer's tag is lost;
 * - a version another writer holds is waited for, and signed past only once it is older
 *   than the lease;
 * - a version of our own whose publish failed is signed past at once;
 * - a validation error is not retried; transient failures are, within the bounds;
 * - a server that never answers cannot hold the loop past its deadline.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NotaryHsmError } from '../../../src/errors';
import type { TrustedRepository } from '../../../src/client/reader';
import type { TrustServer } from '../../../src/client/trust-server';
import { runUpdateLoop, type Attempt, type ChangeResult } from '../../../src/client/update-loop';
import type { SignedMetadata } from '../../../src/metadata/signed';
import { NotaryServerClient } from '../../../src/notary';

const ROLE = 'targets/ci';

interface FakeFile {
  role: string;
  version: number;
  tags: string[];
}

function file(f: FakeFile): SignedMetadata {
  return {
    role: f.role,
    signed: { version: f.version, tags: f.tags },
    bytes: Buffer.from(JSON.stringify(f)),
  } as unknown as SignedMetadata;
}

function tagsOf(m: SignedMetadata | undefined): string[] {
  return ((m?.signed as unknown as { tags?: string[] }) ?? {}).tags ?? [];
}

/** A server that keeps one role and a daemon that hands each version out once. */
class World {
  stored: SignedMetadata | undefined;
  readonly published: number[] = [];
  readonly signedLog: { version: number; at: number }[] = [];
  /** Rollback refusals the daemon answered. */
  refusals = 0;
  private claimed = 0;
  private claimedAt = 0;
  /** What the server does with a publish of `version`. */
  publishFault: (version: number) => 'ok' | '503' | 'invalid' = () => 'ok';

  constructor(readonly leaseMs: number) {}

  repo(): TrustedRepository {
    const targets = new Map<string, SignedMetadata>();
    if (this.stored) targets.set(ROLE, this.stored);
    return { gun: 'g', targets } as unknown as TrustedRepository;
  }

  /** A version another writer took and never published. */
  burn(version: number): void {
    this.claimed = version;
    this.claimedAt = performance.now();
  }

  sign(version: number, tags: string[]): SignedMetadata {
    if (version <= this.claimed) {
      this.refusals++;
      throw new NotaryHsmError('VERSION_ROLLBACK', `not above ${this.claimed}`, {
        details: {
          role: ROLE,
          version,
          lastVersion: this.claimed,
          lastSignedAgeMs: Math.round(performance.now() - this.claimedAt),
          leaseMs: this.leaseMs,
        },
      });
    }
    this.claimed = version;
    this.claimedAt = performance.now();
    this.signedLog.push({ version, at: performance.now() });
    return file({ role: ROLE, version, tags });
  }

  server(): TrustServer {
    const never = (): Promise<Buffer> => Promise.reject(new Error('not used'));
    return {
      getCurrent: never,
      getByHash: never,
      getServerKey: never,
      publish: async (_gun, files) => {
        await Promise.resolve();
        const f = files[0] as { role: string; bytes: Uint8Array };
        const incoming = JSON.parse(Buffer.from(f.bytes).toString()) as FakeFile;
        const fault = this.publishFault(incoming.version);
        if (fault === '503') throw new NotaryHsmError('SERVER_ERROR', 'the server answered 503');
        if (fault === 'invalid') throw new NotaryHsmError('SERVER_INVALID_UPDATE', 'says no');
        if (this.stored && this.stored.signed.version >= incoming.version) {
          throw new NotaryHsmError('SERVER_VERSION_CONFLICT', 'a newer version is stored');
        }
        this.stored = file(incoming);
        this.published.push(incoming.version);
      },
    };
  }

  /** A writer adding `tag` on top of whatever is stored. */
  writer(tag: string) {
    return async (attempt: Attempt): Promise<ChangeResult> => {
      await Promise.resolve(); // a signature takes a round trip
      const current = attempt.repo.targets.get(ROLE);
      const version = attempt.version(ROLE, current?.signed.version);
      const f = this.sign(version, [...tagsOf(current), tag]);
      attempt.signed(f);
      return { files: [f], leaseMs: this.leaseMs };
    };
  }

  loop(tag: string, extra: { retries?: number; timeoutMs?: number } = {}) {
    return runUpdateLoop({
      server: this.server(),
      gun: 'g',
      change: this.writer(tag),
      read: () => Promise.resolve(this.repo()),
      baseDelayMs: 2,
      maxDelayMs: 20,
      ...extra,
    });
  }
}

describe('runUpdateLoop', () => {
  test('eight writers of one role at once: all land, each version published once, no tag lost', async () => {
    const world = new World(10_000);
    const tags = Array.from({ length: 8 }, (_, i) => `t${i}`);
    const results = await Promise.all(tags.map((t) => world.loop(t, { retries: 200 })));
    expect(results).toHaveLength(8);
    expect(tagsOf(world.stored).sort()).toEqual(tags);
    expect(world.published).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test("another writer's version is waited for, and signed past only once older than the lease", async () => {
    const world = new World(300);
    world.burn(1); // handed out, never published
    const started = performance.now();
    await world.loop('mine', { retries: 500 });
    expect(world.published).toEqual([2]);
    expect(world.signedLog[0]?.at ?? 0).toBeGreaterThanOrEqual(started + 290);
  });

  test('our own version whose publish never got through is signed past without waiting for the lease', async () => {
    // Version 1 never gets through within its publish window (a third of the lease); the
    // loop knows the version is its own and asks for version 2 straight away: the daemon
    // never has to refuse a version as still held by someone.
    const world = new World(300);
    world.publishFault = (version) => (version === 1 ? '503' : 'ok');
    await world.loop('mine', { retries: 10 });
    expect(world.published).toEqual([2]);
    expect(world.signedLog.map((s) => s.version)).toEqual([1, 2]);
    expect(world.refusals).toBe(0);
  });

  test('a validation error is not retried', async () => {
    const world = new World(10_000);
    world.publishFault = () => 'invalid';
    await expect(world.loop('x')).rejects.toThrowWithCode('SERVER_INVALID_UPDATE');
    expect(world.signedLog).toHaveLength(1);
  });

  test('bounded: transient failures forever end in UPDATE_GAVE_UP after the retries', async () => {
    const world = new World(60);
    world.publishFault = () => '503';
    const err = await world.loop('x', { retries: 3 }).catch((e: unknown) => e);
    expect(err).toThrowWithCode('UPDATE_GAVE_UP');
    expect((err as Error).message).toMatch(/gave up after 4 attempts/);
    expect(world.signedLog).toHaveLength(4);
  });
});

describe('a server that never answers', () => {
  let silent: Server;
  let url: string;
  beforeAll(async () => {
    silent = createServer(() => undefined); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    silent.closeAllConnections();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  test('cannot hold the loop past --timeout', async () => {
    const server = new NotaryServerClient({ url });
    const started = performance.now();
    const err = await runUpdateLoop({
      server,
      gun: 'localhost:5000/x/y',
      timeoutMs: 600,
      change: () => Promise.reject(new Error('never reached')),
    }).catch((e: unknown) => e);
    server.close();
    expect(err).toThrowWithCode('UPDATE_GAVE_UP');
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
