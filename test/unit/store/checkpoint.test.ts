/**
 * The audit checkpoint (store/checkpoint.ts) at the store's level, with the checkpoint kept
 * in memory instead of a token (the token's side is test/integration/daemon/checkpoint.test.ts):
 * the start-up decision table, no answer before the checkpoint covering it is written, a
 * failed checkpoint write stopping everything until a retry succeeds, and a checkpoint
 * that cannot be read at open holding the store until it can.
 */
import { truncate } from 'node:fs/promises';
import { NotaryHsmError } from '../../../src/errors';
import { openStore, readAudit, verifyAuditLog } from '../../../src/store';
import {
  checkpointVerdict,
  decodeCheckpoint,
  encodeCheckpoint,
  type Checkpoint,
  type CheckpointStore,
} from '../../../src/store/checkpoint';
import { logPath, refusal, signing, stateDir, until } from './fixtures';

const H = (c: string): string => c.repeat(64);

/** A checkpoint in memory, whose reads and writes a test can make fail. */
class MemoryCheckpoint implements CheckpointStore {
  readonly where = 'memory';
  saved: Checkpoint | undefined;
  writes: Checkpoint[] = [];
  failRead = false;
  failWrite = false;
  async read(): Promise<Checkpoint | undefined> {
    await Promise.resolve();
    if (this.failRead) throw new NotaryHsmError('TOKEN_NOT_PRESENT', 'token away');
    return this.saved;
  }
  async write(c: Checkpoint): Promise<void> {
    await Promise.resolve();
    if (this.failWrite) throw new NotaryHsmError('TOKEN_NOT_PRESENT', 'token away');
    this.saved = c;
    this.writes.push(c);
  }
}

describe('checkpointVerdict', () => {
  const log = (seq: number, hashAtCheckpoint: string | undefined) => ({
    path: '/state/audit.log',
    head: { seq, hash: H('e') },
    hashAtCheckpoint,
  });

  it('no checkpoint: a new log, or one that had none yet; refused when the log says it had one', () => {
    expect(checkpointVerdict(undefined, log(0, undefined), 'memory')).toBe('new');
    expect(checkpointVerdict(undefined, log(5, undefined), 'memory')).toBe('adopt');
    const anchored = {
      ...log(5, undefined),
      anchor: { seq: 1, reason: 'checkpoint kept in memory' },
    };
    expect(() => checkpointVerdict(undefined, anchored, 'memory')).toThrowWithCode(
      'CHECKPOINT_MISSING',
    );
  });

  it('a log that reaches its checkpoint, or goes past it', () => {
    expect(checkpointVerdict({ seq: 5, hash: H('a') }, log(5, H('a')), 'memory')).toBe('ok');
    expect(checkpointVerdict({ seq: 5, hash: H('a') }, log(9, H('a')), 'memory')).toBe('ok');
  });

  it('a log behind its checkpoint, empty, or another log: refused, naming both ends', () => {
    const behind = () => checkpointVerdict({ seq: 7, hash: H('a') }, log(5, undefined), 'memory');
    expect(behind).toThrowWithCode('AUDIT_BEHIND_CHECKPOINT');
    expect(behind).toThrow(
      /ends at seq 5 \(hash eeeeeeeeeeeeeeee…\), behind the audit checkpoint in memory \(seq 7, hash aaaaaaaaaaaaaaaa…\)/,
    );
    const empty = () => checkpointVerdict({ seq: 7, hash: H('a') }, log(0, undefined), 'memory');
    expect(empty).toThrow(/audit log \/state\/audit.log is empty, behind/);
    const other = () => checkpointVerdict({ seq: 5, hash: H('a') }, log(9, H('b')), 'memory');
    expect(other).toThrowWithCode('AUDIT_BEHIND_CHECKPOINT');
    expect(other).toThrow(/holds a different record at seq 5/);
  });
});

describe('checkpoint encoding', () => {
  it('round-trips, and refuses what this daemon did not write', () => {
    const c = { seq: 12, hash: H('c') };
    expect(decodeCheckpoint(encodeCheckpoint(c), 'memory')).toEqual(c);
    for (const bad of ['', 'null', '{}', '{"format":"x","seq":1,"hash":"' + H('a') + '"}']) {
      expect(() => decodeCheckpoint(bad, 'memory')).toThrowWithCode('CHECKPOINT_UNAVAILABLE');
    }
    const neg = encodeCheckpoint({ seq: -1, hash: H('a') });
    expect(() => decodeCheckpoint(neg, 'memory')).toThrowWithCode('CHECKPOINT_UNAVAILABLE');
  });
});

describe('a store with a checkpoint', () => {
  it('writes one per batch before any answer, and refuses to open on a cut log', async () => {
    const dir = await stateDir('ckpt-');
    const cp = new MemoryCheckpoint();
    const store = await openStore(dir, { checkpoint: cp });
    // a new log's first record says where its checkpoint is kept; its batch wrote it
    expect(cp.saved?.seq).toBe(1);
    // three records in one turn: one batch, one checkpoint, written before they resolve
    const answers = [refusal(0), refusal(1), refusal(2)].map((r) =>
      store.audit.append(r).then((e) => ({ seq: e.seq, checkpoint: cp.saved?.seq })),
    );
    expect(await Promise.all(answers)).toEqual([
      { seq: 2, checkpoint: 4 },
      { seq: 3, checkpoint: 4 },
      { seq: 4, checkpoint: 4 },
    ]);
    expect(cp.writes.map((w) => w.seq)).toEqual([1, 4]);
    await store.state.reserve(signing(1));
    await store.close();
    expect(cp.saved?.seq).toBe(5);

    const v = await verifyAuditLog(logPath(dir), { at: 2 });
    expect(v.hashAt).toMatch(/^[0-9a-f]{64}$/);
    await truncate(logPath(dir), 0);
    await expect(openStore(dir, { checkpoint: cp })).rejects.toThrowWithCode(
      'AUDIT_BEHIND_CHECKPOINT',
    );
  });

  it('a failed checkpoint write answers nothing until a retry writes it', async () => {
    const dir = await stateDir('ckpt-');
    const cp = new MemoryCheckpoint();
    const store = await openStore(dir, { checkpoint: cp });
    await store.state.reserve(signing(1));
    cp.failWrite = true;
    await expect(store.state.reserve(signing(2))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    expect(store.problem()).toMatch(/cannot write the audit checkpoint to memory/);
    await expect(store.audit.append(refusal(0))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    cp.failWrite = false;
    await until(() => store.audit.available);
    // the durable record of version 2 is covered now, and its version stays claimed
    expect(cp.saved?.seq).toBe(3);
    await expect(store.state.reserve(signing(2))).rejects.toThrowWithCode('VERSION_ROLLBACK');
    await expect(store.state.reserve(signing(3))).resolves.toMatchObject({ seq: 4 });
    await store.close();
    await expect(verifyAuditLog(logPath(dir))).resolves.toMatchObject({ ok: true, records: 4 });
  });

  it('a checkpoint unreadable at open holds the store until it can be read', async () => {
    const dir = await stateDir('ckpt-');
    const cp = new MemoryCheckpoint();
    const first = await openStore(dir, { checkpoint: cp });
    await first.state.reserve(signing(1));
    await first.close();

    cp.failRead = true;
    const told: string[] = [];
    const store = await openStore(dir, { checkpoint: cp, onCheckpoint: (v) => told.push(v) });
    expect(store.problem()).toMatch(/cannot read the audit checkpoint from memory: token away/);
    await expect(store.state.reserve(signing(2))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    cp.failRead = false;
    await until(() => store.audit.available);
    expect(told).toEqual(['ok']);
    await expect(store.state.reserve(signing(2))).resolves.toMatchObject({ seq: 3 });
    await store.close();
  });

  it('a checkpoint gone from its token while the log says it has one: refused', async () => {
    const dir = await stateDir('ckpt-');
    const cp = new MemoryCheckpoint();
    const first = await openStore(dir, { checkpoint: cp });
    await first.state.reserve(signing(1));
    await first.close();
    cp.saved = undefined; // lost (a torn object file), the token replaced, or moved
    await expect(openStore(dir, { checkpoint: cp })).rejects.toThrowWithCode('CHECKPOINT_MISSING');
    await expect(openStore(dir, { checkpoint: cp })).rejects.toThrow(
      /says at seq 1 "checkpoint kept in memory \(a new log\)", but memory holds no checkpoint/,
    );
  });

  it('a log that had none is adopted once, and says so', async () => {
    const dir = await stateDir('ckpt-');
    const plain = await openStore(dir);
    await plain.state.reserve(signing(1));
    await plain.close();
    const cp = new MemoryCheckpoint();
    const told: string[] = [];
    const store = await openStore(dir, { checkpoint: cp, onCheckpoint: (v) => told.push(v) });
    expect(told).toEqual(['adopt']);
    expect(cp.saved?.seq).toBe(2);
    await store.close();
    const records = [];
    for await (const r of readAudit(logPath(dir))) records.push(r);
    expect(records.map((r) => r.outcome)).toEqual(['signed', 'checkpointed']);
  });

  it('a log found behind its checkpoint once it can be read: held for good', async () => {
    const dir = await stateDir('ckpt-');
    const cp = new MemoryCheckpoint();
    const first = await openStore(dir, { checkpoint: cp });
    await first.state.reserve(signing(1));
    await first.close();
    await truncate(logPath(dir), 0);

    cp.failRead = true;
    const told: string[] = [];
    const store = await openStore(dir, { checkpoint: cp, onCheckpoint: (v) => told.push(v) });
    cp.failRead = false;
    await until(() => told.length > 0);
    expect(told).toEqual(['behind']);
    expect(store.problem()).toMatch(/behind the audit checkpoint/);
    await expect(store.state.reserve(signing(1))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    await store.close();
  });
});
