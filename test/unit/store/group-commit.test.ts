/**
 * Group commit: appends of one event-loop turn share one write and one fdatasync, appends
 * made while a flush is in flight form the next batch, a promise resolves only after the
 * fdatasync that covers it, and a failing disk rejects every pending append and every
 * later one (AUDIT_UNAVAILABLE) instead of letting anything through unrecorded.
 */
import type { AuditEntry } from '../../../src/signing/types';
import { openStore, readAudit, verifyAuditLog } from '../../../src/store';
import {
  deferred,
  errno,
  logLines,
  logPath,
  refusal,
  signing,
  stateDir,
  TestIo,
  turn,
  until,
} from './fixtures';

async function collect(path: string): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAudit(path)) out.push(e);
  return out;
}

describe('group commit', () => {
  it('writes 1,000 concurrent appends with one write and one fdatasync, in call order', async () => {
    const dir = await stateDir('group-');
    const io = new TestIo();
    const store = await openStore(dir, { io });
    const appended = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => store.audit.append(refusal(i))),
    );
    expect(io.syncs).toBeLessThanOrEqual(2);
    expect(io.writes).toBeLessThanOrEqual(2);
    expect(store.audit.stats()).toMatchObject({ records: 1000, syncs: io.syncs });
    expect(store.audit.stats().largestBatch).toBeGreaterThanOrEqual(500);
    expect(appended.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(appended.map((e) => e.requestId)).toEqual(
      Array.from({ length: 1000 }, (_, i) => `req-${i}`),
    );
    await store.close();
    // durable: what a fresh reader finds is exactly what the promises resolved with
    expect(await collect(logPath(dir))).toEqual(appended);
    await expect(verifyAuditLog(logPath(dir))).resolves.toMatchObject({ ok: true, records: 1000 });
  });

  it('resolves an append only after the fdatasync covering it returned', async () => {
    const dir = await stateDir('group-');
    const io = new TestIo();
    const store = await openStore(dir, { io });
    const gate = deferred();
    io.gate = gate.promise;
    let done = 0;
    const first = Promise.all([
      store.audit.append(refusal(1)).then(() => done++),
      store.audit.append(refusal(2)).then(() => done++),
    ]);
    await until(() => io.syncs === 1); // written, its fdatasync held at the gate
    for (let i = 0; i < 5; i++) await turn();
    expect(io.writes).toBe(1);
    expect(io.syncs).toBe(1);
    expect(done).toBe(0);
    // appended while the first flush is in flight: the next batch, after the first
    const second = Promise.all([3, 4, 5].map((n) => store.audit.append(refusal(n))));
    for (let i = 0; i < 5; i++) await turn();
    expect(io.writes).toBe(1);
    io.gate = undefined;
    gate.resolve();
    await first;
    expect(done).toBe(2);
    const later = await second;
    expect(later.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(io.syncs).toBe(2);
    expect(store.audit.stats()).toMatchObject({ batches: 2, largestBatch: 3, records: 5 });
    await store.close();
  });

  it('flushes everything appended before close, then refuses appends', async () => {
    const dir = await stateDir('group-');
    const store = await openStore(dir);
    const pending = Array.from({ length: 50 }, (_, i) => store.audit.append(refusal(i)));
    await store.close();
    await expect(Promise.all(pending)).resolves.toHaveLength(50);
    expect(store.audit.available).toBe(false);
    await expect(store.audit.append(refusal(51))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    expect(await logLines(dir)).toHaveLength(50);
  });
});

describe('a failing disk', () => {
  it('rejects every pending append and every later one when write fails', async () => {
    const dir = await stateDir('fail-');
    const io = new TestIo();
    const store = await openStore(dir, { io });
    await store.audit.append(refusal(0));
    const gate = deferred();
    io.gate = gate.promise;
    const inFlight = store.audit.append(refusal(1));
    await until(() => io.syncs === 2); // written, its fdatasync held at the gate
    io.failWrite = errno('ENOSPC');
    const queued = Array.from({ length: 10 }, (_, i) => store.audit.append(refusal(i + 2)));
    io.gate = undefined;
    gate.resolve();
    await expect(inFlight).resolves.toMatchObject({ seq: 2 });
    const results = await Promise.allSettled(queued);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toThrowWithCode('AUDIT_UNAVAILABLE');
    }
    expect(String((results[0] as PromiseRejectedResult).reason)).toContain('ENOSPC');
    expect(store.audit.available).toBe(false);
    io.failWrite = undefined; // the disk is fine again: the log still refuses until reopened
    await expect(store.audit.append(refusal(20))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    await expect(store.state.reserve(signing(1))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    expect(store.state.lastVersion(signing(1).gun, 'targets')).toBeUndefined();
    await store.close();
    // reopened: the durable records are there, the chain goes on from them
    const again = await openStore(dir);
    expect(again.recovered).toBeUndefined();
    await expect(again.audit.append(refusal(3))).resolves.toMatchObject({ seq: 3 });
    await again.close();
    await expect(verifyAuditLog(logPath(dir))).resolves.toMatchObject({ ok: true, records: 3 });
  });

  it('rejects the batch when fdatasync fails; the written records stay valid', async () => {
    const dir = await stateDir('fail-');
    const io = new TestIo();
    const store = await openStore(dir, { io });
    io.failSync = errno('EIO');
    const results = await Promise.allSettled([
      store.state.reserve(signing(7)),
      store.audit.append(refusal(1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toThrowWithCode('AUDIT_UNAVAILABLE');
    await store.close();
    // the bytes reached the file (not known to be durable): version 7 stays taken
    const again = await openStore(dir);
    expect(again.state.lastVersion(signing(7).gun, 'targets')).toBe(7);
    await expect(again.state.reserve(signing(7))).rejects.toThrowWithCode('VERSION_ROLLBACK');
    await again.close();
  });

  it('recovers from a write cut short: the torn record is cut away and the cut recorded', async () => {
    const dir = await stateDir('fail-');
    const io = new TestIo();
    const store = await openStore(dir, { io });
    await store.audit.append(refusal(0));
    io.failWrite = errno('EIO');
    io.partialBytes = 100;
    await expect(store.audit.append(refusal(1))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    await store.close();
    const lines = await logLines(dir);
    expect(lines).toHaveLength(2);
    expect(Buffer.byteLength(lines[1] as string)).toBe(100);
    const again = await openStore(dir);
    expect(again.recovered).toEqual({ truncatedBytes: 100 });
    await again.close();
    const records = await collect(logPath(dir));
    expect(records.map((r) => [r.seq, r.outcome])).toEqual([
      [1, 'refused'],
      [2, 'recovered'],
    ]);
    expect(records[1]?.reason).toBe('truncated 100 bytes of an incomplete record');
  });
});
