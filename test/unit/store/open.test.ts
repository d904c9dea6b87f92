/**
 * Opening the store: what it creates and with which modes, the recovery of a torn tail
 * (cut away, cut recorded, chain intact), the refusal of every other damage, and the lock
 * that keeps a second process (or a second open in this one) off the state directory.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEntry } from '../../../src/signing/types';
import { openStore, readAudit, verifyAuditLog } from '../../../src/store';
import { GUN, logLines, logPath, refusal, signing, stateDir, writeLines } from './fixtures';

async function records(dir: string): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAudit(logPath(dir))) out.push(e);
  return out;
}

/** A closed store with three records: a refusal, targets v1 and v2. */
async function threeRecords(): Promise<{ dir: string; lines: string[] }> {
  const dir = await stateDir('open-');
  const store = await openStore(dir);
  await store.audit.append(refusal(1));
  await store.state.reserve(signing(1));
  await store.state.reserve(signing(2));
  await store.close();
  return { dir, lines: await logLines(dir) };
}

describe('openStore', () => {
  it('creates the directory 0700 and the log 0600, and holds a lock until close', async () => {
    const dir = await stateDir('open-');
    const store = await openStore(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(logPath(dir))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'lock'), 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    expect(store.audit.head()).toEqual({ seq: 0, hash: '0'.repeat(64) });
    await expect(openStore(dir)).rejects.toThrowWithCode('STATE_LOCKED');
    await store.close();
    await expect(stat(join(dir, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' });
    await store.close(); // idempotent
  });

  it('takes over the lock of a process that is gone', async () => {
    const dir = await stateDir('open-');
    await mkdir(dir, { recursive: true });
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {
      encoding: 'utf8',
    });
    const deadPid = Number(child.stdout.trim());
    await writeFile(join(dir, 'lock'), `${deadPid} 12345\n`);
    const store = await openStore(dir);
    await store.close();
    // our own PID, but started at another time: a previous life of a container's PID 1
    const ownStart = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ')[19];
    await writeFile(join(dir, 'lock'), `${process.pid} ${Number(ownStart) + 1}\n`);
    const again = await openStore(dir);
    await again.close();
  });

  it('cuts a torn last record away and records the cut', async () => {
    const { dir, lines } = await threeRecords();
    const torn = (lines[2] as string).slice(0, 57);
    await writeLines(dir, [lines[0] as string, lines[1] as string, torn]);
    const store = await openStore(dir);
    expect(store.recovered).toEqual({ truncatedBytes: 57 });
    // version 2 was never acknowledged: it is not in the state
    expect(store.state.lastVersion(GUN, 'targets')).toBe(1);
    await store.close();
    const r = await records(dir);
    expect(r.map((e) => [e.seq, e.outcome, e.version])).toEqual([
      [1, 'refused', 1],
      [2, 'signed', 1],
      [3, 'recovered', undefined],
    ]);
    expect(r[2]).toMatchObject({
      client: 'notary-hsmd',
      reason: 'truncated 57 bytes of an incomplete record',
      prev: r[1]?.hash,
    });
    await expect(verifyAuditLog(logPath(dir))).resolves.toMatchObject({ ok: true, records: 3 });
  });

  it('cuts a complete record whose newline never reached the file', async () => {
    const { dir, lines } = await threeRecords();
    const last = (lines[2] as string).slice(0, -1);
    await writeLines(dir, [lines[0] as string, lines[1] as string, last]);
    const store = await openStore(dir);
    expect(store.recovered).toEqual({ truncatedBytes: Buffer.byteLength(last) });
    expect(store.state.lastVersion(GUN, 'targets')).toBe(1);
    await store.close();
  });

  it('cuts a last line that is not JSON (zeros a crash left behind)', async () => {
    const { dir } = await threeRecords();
    await appendFile(logPath(dir), Buffer.concat([Buffer.alloc(300), Buffer.from('\n')]));
    const store = await openStore(dir);
    expect(store.recovered).toEqual({ truncatedBytes: 301 });
    expect(store.state.lastVersion(GUN, 'targets')).toBe(2);
    await store.close();
    await expect(verifyAuditLog(logPath(dir))).resolves.toMatchObject({ ok: true, records: 4 });
  });

  it('recovers a log whose only record was torn', async () => {
    const dir = await stateDir('open-');
    await mkdir(dir, { recursive: true });
    await writeFile(logPath(dir), '{"client":"ci","endp');
    const store = await openStore(dir);
    await store.close();
    const r = await records(dir);
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ seq: 1, outcome: 'recovered', prev: '0'.repeat(64) });
  });

  it('refuses to open on any other damage', async () => {
    const { dir, lines } = await threeRecords();
    const cases: [string, string[], number][] = [
      // a last record that parses but does not verify is not a torn write
      ['last record edited', [lines[0], lines[1], lines[2]?.replace('"ci"', '"cj"')], 3],
      ['a line that is not JSON before the last', [lines[0], 'garbage\n', lines[2]], 2],
      ['a torn line followed by a complete one', [lines[0], 'x\n', lines[1], lines[2]], 2],
      ['a seq gap', [lines[0], lines[2]], 2],
      ['an empty line in the middle', [lines[0], '\n', lines[1]], 2],
    ].map(([name, l, n]) => [name as string, l as string[], n as number]);
    for (const [name, content, line] of cases) {
      await writeLines(dir, content);
      const err = await openStore(dir).catch((e: unknown) => e);
      expect([name, err]).toEqual([name, expect.objectContaining({ code: 'AUDIT_CORRUPT' })]);
      expect([name, (err as { details: { line: number } }).details.line]).toEqual([name, line]);
      // nothing was changed
      expect(await logLines(dir)).toEqual(content);
    }
  });

  it('does not follow a symlink in place of the log', async () => {
    const dir = await stateDir('open-');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'elsewhere'), '');
    await symlink(join(dir, 'elsewhere'), logPath(dir));
    await expect(openStore(dir)).rejects.toThrowWithCode('AUDIT_UNAVAILABLE');
    // and released the lock on the way out
    await expect(stat(join(dir, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
