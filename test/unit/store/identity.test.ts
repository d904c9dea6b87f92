/**
 * The state directory changed under an open store: the audit log removed, renamed or
 * replaced, the whole directory removed, the lock file removed, replaced or rewritten, or
 * a second store opened on the directory after its lock went. In every case the next batch
 * is refused with AUDIT_UNAVAILABLE (appends and reservations alike), nothing reaches the
 * file the store still holds open, the refusal is final, and `problem()` names what was
 * found, also between batches.
 */
import { link, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LOCK_FILE, openStore, type Store } from '../../../src/store';
import {
  deferred,
  errno,
  logLines,
  logPath,
  refusal,
  signing,
  stateDir,
  TestIo,
  until,
} from './fixtures';

function lockPath(dir: string): string {
  return join(dir, LOCK_FILE);
}

/**
 * An open store with one record, and a second name for its log's inode outside the state
 * directory, to see that nothing more reaches that file.
 */
async function opened(): Promise<{ dir: string; store: Store; kept: string; size: number }> {
  const dir = await stateDir('identity-');
  const store = await openStore(dir);
  await store.audit.append(refusal(0));
  const kept = join(dirname(dir), 'kept.log');
  await link(logPath(dir), kept);
  return { dir, store, kept, size: (await stat(kept)).size };
}

/** Both kinds of record are refused, and the refusal says `found`. */
async function refuses(store: Store, found: RegExp): Promise<void> {
  const append = store.audit.append(refusal(1));
  const reserve = store.state.reserve(signing(1));
  await expect(append).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
  await expect(reserve).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
  await expect(append).rejects.toThrow(found);
  await expect(append).rejects.toThrow(
    /nothing more is recorded in the audit log or signed until the daemon is restarted/,
  );
}

const cases: readonly [string, (dir: string) => Promise<void>, RegExp][] = [
  ['the audit log removed', (dir) => unlink(logPath(dir)), /the audit log \S+ was removed/],
  [
    'the audit log renamed',
    (dir) => rename(logPath(dir), join(dir, 'audit.old')),
    /the audit log \S+ was removed or renamed/,
  ],
  [
    'the audit log replaced by a copy',
    async (dir) => {
      const copy = join(dir, 'copy');
      await writeFile(copy, await readFile(logPath(dir)));
      await rename(copy, logPath(dir));
    },
    /the audit log \S+ was replaced by another file/,
  ],
  [
    'the state directory removed',
    (dir) => rm(dir, { recursive: true, force: true }),
    /the state directory \S+ was removed/,
  ],
  ['the lock file removed', (dir) => unlink(lockPath(dir)), /the lock file \S+ was removed/],
  [
    'the lock file rewritten by another process',
    (dir) => writeFile(lockPath(dir), '1 1\n'),
    /the lock file \S+ was rewritten \(it names process 1\)/,
  ],
  [
    'the lock file replaced by another process',
    async (dir) => {
      await writeFile(join(dir, 'other'), '1 1\n');
      await rename(join(dir, 'other'), lockPath(dir));
    },
    /the lock file \S+ was replaced by another file \(it names process 1\)/,
  ],
];

describe('a state directory changed while the store is open', () => {
  it.each(cases)('%s: the next batch is refused', async (_, change, found) => {
    const { dir, store, kept, size } = await opened();
    await change(dir);
    await refuses(store, found);
    expect((await stat(kept)).size).toBe(size);
    expect(store.problem()).toMatch(found);
    await store.close();
    expect((await stat(kept)).size).toBe(size);
  });

  it.each(cases)('%s: problem() finds it between batches', async (_, change, found) => {
    const { dir, store, kept, size } = await opened();
    await change(dir);
    expect(store.problem()).toMatch(found);
    expect(store.audit.available).toBe(false);
    await refuses(store, found);
    expect((await stat(kept)).size).toBe(size);
    await store.close();
  });

  it('rejects everything queued in the turn the log went, with one refusal', async () => {
    const { dir, store, kept, size } = await opened();
    await unlink(logPath(dir));
    const results = await Promise.allSettled([
      ...Array.from({ length: 20 }, (_, i) => store.audit.append(refusal(i + 1))),
      ...Array.from({ length: 20 }, (_, i) => store.state.reserve(signing(i + 1, `targets/r${i}`))),
    ]);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    const reasons = new Set(results.map((r) => (r as PromiseRejectedResult).reason as unknown));
    expect(reasons.size).toBe(1);
    expect(store.state.lastVersion(signing(1).gun, 'targets/r0')).toBeUndefined();
    expect((await stat(kept)).size).toBe(size);
    await store.close();
  });

  it('stays refused when the log is put back', async () => {
    const { dir, store, kept } = await opened();
    await unlink(logPath(dir));
    expect(store.problem()).toMatch(/was removed/);
    await link(kept, logPath(dir)); // the very same file again
    await expect(store.audit.append(refusal(1))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    expect(store.problem()).toMatch(/the audit log \S+ was removed/);
    await store.close();
  });

  it('rejects a batch in flight when problem() finds the log gone meanwhile', async () => {
    const dir = await stateDir('identity-');
    const io = new TestIo();
    const store = await openStore(dir, { io });
    const gate = deferred();
    io.gate = gate.promise;
    const inFlight = store.state.reserve(signing(1));
    await until(() => io.syncs === 1); // written, its fdatasync held at the gate
    const queued = store.audit.append(refusal(2));
    const settled = Promise.allSettled([inFlight, queued]);
    await unlink(logPath(dir));
    expect(store.problem()).toMatch(/the audit log \S+ was removed/);
    io.gate = undefined;
    gate.resolve();
    for (const r of await settled) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toThrowWithCode('AUDIT_UNAVAILABLE');
    }
    await store.close();
  });
});

describe('store.problem()', () => {
  it('is undefined while the store records, and says why once it cannot', async () => {
    const dir = await stateDir('identity-');
    const io = new TestIo();
    const store = await openStore(dir, { io });
    expect(store.problem()).toBeUndefined();
    await store.audit.append(refusal(0));
    expect(store.problem()).toBeUndefined();
    io.failWrite = errno('ENOSPC');
    await expect(store.audit.append(refusal(1))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    expect(store.problem()).toMatch(/cannot write the audit log \S+ \(ENOSPC/);
    await store.close();
  });

  it('says the store is closing without disturbing the close', async () => {
    const dir = await stateDir('identity-');
    const store = await openStore(dir);
    const pending = Array.from({ length: 10 }, (_, i) => store.audit.append(refusal(i)));
    const closing = store.close();
    expect(store.problem()).toMatch(/the audit log \S+ is closed/);
    await closing;
    await expect(Promise.all(pending)).resolves.toHaveLength(10);
    expect(await logLines(dir)).toHaveLength(10);
  });

  it('says the store is closed after close', async () => {
    const dir = await stateDir('identity-');
    const store = await openStore(dir);
    await store.close();
    expect(store.problem()).toMatch(/the audit log \S+ is closed/);
  });
});

describe('a second store on the directory after the lock file went', () => {
  it('leaves the first refusing to record; closing the first keeps the second locked', async () => {
    const { dir, store: first, kept, size } = await opened();
    await unlink(lockPath(dir));
    const second = await openStore(dir); // took the lock: nothing stops it now
    await expect(first.audit.append(refusal(1))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    expect(second.problem()).toBeUndefined();
    await expect(first.state.reserve(signing(1))).rejects.toThrow(
      /the lock file \S+ was replaced by another file/,
    );
    expect((await stat(kept)).size).toBe(size);
    await first.close();
    // the first left the second's lock alone
    expect(second.problem()).toBeUndefined();
    await expect(second.state.reserve(signing(1))).resolves.toMatchObject({ seq: 2, version: 1 });
    await expect(openStore(dir)).rejects.toThrowWithCode('STATE_LOCKED');
    await second.close();
    await expect(stat(lockPath(dir))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
