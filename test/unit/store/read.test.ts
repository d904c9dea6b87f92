/**
 * Reading a log without opening the store: verifyAuditLog on an empty, a missing and a
 * half-written log, and readAudit's filters, its handling of a record still being written,
 * and its refusal to go past a record that does not verify.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import type { AuditEntry } from '../../../src/signing/types';
import { openStore, readAudit, verifyAuditLog } from '../../../src/store';
import { GUN, logLines, logPath, refusal, signing, stateDir, writeLines } from './fixtures';

async function collect(path: string, options = {}): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAudit(path, options)) out.push(e);
  return out;
}

describe('verifyAuditLog', () => {
  it('accepts an empty log and reports a missing one as unavailable', async () => {
    const dir = await stateDir('read-');
    await mkdir(dir, { recursive: true });
    await expect(verifyAuditLog(logPath(dir))).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    await writeFile(logPath(dir), '');
    await expect(verifyAuditLog(logPath(dir))).resolves.toEqual({
      ok: true,
      records: 0,
      lastHash: '0'.repeat(64),
    });
  });

  it('tolerates no torn tail (openStore would cut it; verify reports it)', async () => {
    const dir = await stateDir('read-');
    const store = await openStore(dir);
    const e = await store.audit.append(refusal(1));
    await store.close();
    await appendFile(logPath(dir), '{"client"');
    expect(await verifyAuditLog(logPath(dir))).toEqual({
      ok: false,
      records: 1,
      lastHash: e.hash,
      error: {
        line: 2,
        problem: 'incomplete last record (no newline at its end): a write cut short',
      },
    });
  });
});

describe('readAudit', () => {
  it('streams records filtered by GUN and time', async () => {
    const dir = await stateDir('read-');
    let now = new Date('2025-01-01T00:00:00Z');
    const store = await openStore(dir, { now: () => now });
    await store.audit.append(refusal(1));
    now = new Date('2025-01-02T00:00:00Z');
    await store.state.reserve(signing(1, 'targets', 'other.example.com/x'));
    now = new Date('2025-01-03T00:00:00Z');
    await store.state.reserve(signing(2));
    await store.close();
    expect((await collect(logPath(dir))).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await collect(logPath(dir), { gun: GUN })).map((e) => e.seq)).toEqual([1, 3]);
    const since = new Date('2025-01-02T00:00:00Z');
    expect((await collect(logPath(dir), { since })).map((e) => e.seq)).toEqual([2, 3]);
    expect((await collect(logPath(dir), { since, gun: GUN })).map((e) => e.seq)).toEqual([3]);
  });

  it('leaves out a record still being written, and stops at one that does not verify', async () => {
    const dir = await stateDir('read-');
    const store = await openStore(dir);
    for (let i = 1; i <= 3; i++) await store.audit.append(refusal(i));
    await store.close();
    const lines = await logLines(dir);
    await appendFile(logPath(dir), (lines[2] as string).slice(0, 20));
    expect(await collect(logPath(dir))).toHaveLength(3);
    await writeLines(dir, [
      lines[0] as string,
      (lines[1] as string).replace('ci-', 'cj-'),
      lines[2] as string,
    ]);
    const seen: number[] = [];
    const err = await (async () => {
      for await (const e of readAudit(logPath(dir))) seen.push(e.seq);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([1]);
    expect(err).toThrowWithCode('AUDIT_CORRUPT');
    expect((err as Error).message).toContain('line 2');
  });
});
