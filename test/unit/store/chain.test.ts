/**
 * The hash chain on real files: a log written by the store verifies, and every kind of
 * tampering the chain can see is reported at the line where it happened, by the
 * standalone verifier and by openStore (which then refuses to open).
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { canonicalJson } from '../../../src/metadata/canonical';
import type { JsonObject } from '../../../src/metadata/json';
import type { AuditEntry } from '../../../src/signing/types';
import { GENESIS_HASH, openStore, verifyAuditLog } from '../../../src/store';
import { logLines, logPath, refusal, signing, stateDir, writeLines } from './fixtures';

/** A log of six varied records (non-ASCII text included); returns the dir and the entries. */
async function sampleLog(): Promise<{ dir: string; entries: AuditEntry[]; lines: string[] }> {
  const dir = await stateDir('chain-');
  const store = await openStore(dir);
  const entries = await Promise.all([
    store.audit.append(refusal(1)),
    store.state.reserve(signing(1)),
    store.audit.append({ client: 'ci', endpoint: 'certificates/root', outcome: 'signed' }),
    store.audit.append(refusal(2, { reason: 'größer als erlaubt — 😀 "quoted" \\ back' })),
    store.state.reserve(signing(2)),
    store.audit.append({ client: 'admin', endpoint: 'keys/generate', outcome: 'failed' }),
  ]);
  await store.close();
  return { dir, entries, lines: await logLines(dir) };
}

function hashOf(prev: string, body: object): string {
  return createHash('sha256')
    .update(prev + canonicalJson(body as JsonObject))
    .digest('hex');
}

describe('the audit chain', () => {
  let sample: { dir: string; entries: AuditEntry[]; lines: string[] };
  beforeAll(async () => {
    sample = await sampleLog();
  });

  it('links records written by the store, each line the canonical JSON of its entry', async () => {
    const { dir, entries, lines } = sample;
    expect(lines).toHaveLength(6);
    let prev = GENESIS_HASH;
    entries.forEach((e, i) => {
      expect(e.seq).toBe(i + 1);
      expect(e.prev).toBe(prev);
      const { hash, ...body } = e;
      expect(hash).toBe(hashOf(prev, body));
      expect(lines[i]).toBe(canonicalJson(e as unknown as JsonObject) + '\n');
      prev = hash;
    });
    await expect(verifyAuditLog(logPath(dir))).resolves.toEqual({
      ok: true,
      records: 6,
      lastHash: prev,
    });
  });

  it('reports an edit of any byte of any record at that record’s line', async () => {
    const { dir, lines } = sample;
    const original = Buffer.from(lines.join(''), 'utf8');
    const lineOf: number[] = [];
    lines.forEach((l, i) => {
      for (let k = 0; k < Buffer.byteLength(l); k++) lineOf.push(i + 1);
    });
    const copy = Buffer.from(original);
    const missed: number[] = [];
    for (let at = 0; at < original.length; at++) {
      original.copy(copy);
      copy[at] = (original[at] as number) ^ 0x01;
      await writeFile(logPath(dir), copy);
      const r = await verifyAuditLog(logPath(dir));
      if (r.ok || r.error?.line !== lineOf[at]) missed.push(at);
      if (r.ok === false && r.records !== (lineOf[at] as number) - 1) missed.push(at);
    }
    expect(missed).toEqual([]);
    await writeFile(logPath(dir), original);
    await expect(verifyAuditLog(logPath(dir))).resolves.toMatchObject({ ok: true });
  });

  it('reports a deleted line where the chain breaks', async () => {
    const { dir, lines } = sample;
    for (let i = 0; i < lines.length - 1; i++) {
      await writeLines(
        dir,
        lines.filter((_, k) => k !== i),
      );
      const r = await verifyAuditLog(logPath(dir));
      expect(r.ok).toBe(false);
      expect(r.error).toEqual({
        line: i + 1,
        seq: i + 2,
        problem: `seq ${i + 2} where ${i + 1} was expected`,
      });
    }
  });

  it('reports two swapped lines at the first of them', async () => {
    const { dir, lines } = sample;
    for (const [a, b] of [
      [0, 1],
      [1, 4],
      [4, 5],
    ] as const) {
      const swapped = [...lines];
      swapped[a] = lines[b] as string;
      swapped[b] = lines[a] as string;
      await writeLines(dir, swapped);
      const r = await verifyAuditLog(logPath(dir));
      expect(r).toMatchObject({ ok: false, records: a, error: { line: a + 1, seq: b + 1 } });
    }
  });

  it('reports a forged record appended without the right prev, or with a wrong hash', async () => {
    const { dir, lines, entries } = sample;
    const last = entries[entries.length - 1] as AuditEntry;
    const forge = (prev: string, hash?: string): string => {
      const body = { client: 'ci', endpoint: 'sign/targets', outcome: 'signed', seq: 7 };
      const bodyWithPrev = { ...body, time: '2030-01-01T00:00:00.000Z', prev };
      const entry = { ...bodyWithPrev, hash: hash ?? hashOf(prev, bodyWithPrev) };
      return canonicalJson(entry) + '\n';
    };
    // a correct hash over the forged content, but prev is not the last record's hash
    const entriesBefore = entries[entries.length - 2] as AuditEntry;
    await writeLines(dir, [...lines, forge(entriesBefore.hash)]);
    expect(await verifyAuditLog(logPath(dir))).toEqual({
      ok: false,
      records: 6,
      lastHash: last.hash,
      error: {
        line: 7,
        seq: 7,
        problem: 'prev does not match the hash of the record before it (seq 6)',
      },
    });
    // the right prev, a hash that is not the content's
    await writeLines(dir, [...lines, forge(last.hash, 'e'.repeat(64))]);
    expect(await verifyAuditLog(logPath(dir))).toMatchObject({
      ok: false,
      error: { line: 7, seq: 7, problem: "hash does not match the record's content" },
    });
    // a record with every field right but an extra member
    const body: JsonObject = { ...(JSON.parse(forge(last.hash)) as JsonObject), admin: true };
    delete body.hash;
    await writeLines(dir, [
      ...lines,
      canonicalJson({ ...body, hash: hashOf(last.hash, body) }) + '\n',
    ]);
    expect(await verifyAuditLog(logPath(dir))).toMatchObject({
      ok: false,
      error: { line: 7, problem: 'unknown member "admin"' },
    });
    // the same content, not in canonical form
    await writeLines(dir, [...lines, forge(last.hash).replace(':', ': ')]);
    expect(await verifyAuditLog(logPath(dir))).toMatchObject({
      ok: false,
      error: { line: 7, problem: 'not in canonical JSON form' },
    });
  });

  it('makes openStore refuse a log with a damaged record, naming the line and seq', async () => {
    const { dir, lines } = sample;
    const damaged = [...lines];
    damaged[2] = (lines[2] as string).replace('"ci"', '"cj"');
    await writeLines(dir, damaged);
    const err = await openStore(dir).catch((e: unknown) => e);
    expect(err).toThrowWithCode('AUDIT_CORRUPT');
    expect((err as { details: unknown }).details).toMatchObject({ line: 3, seq: 3 });
    expect((err as Error).message).toContain("line 3 (seq 3): hash does not match the record's");
    // and it let go of the directory: an intact log opens again
    await writeLines(dir, lines);
    const store = await openStore(dir);
    expect(store.audit.head().seq).toBe(6);
    await store.close();
  });
});
