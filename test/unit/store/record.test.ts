/**
 * Records as the log stores them: the hash rule written out independently, what append
 * makes of strings canonical JSON cannot carry, and the inputs it refuses.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../../src/metadata/canonical';
import type { JsonObject } from '../../../src/metadata/json';
import type { AuditInput } from '../../../src/signing/types';
import { openStore, readAudit } from '../../../src/store';
import { normalizeInput, sealRecord } from '../../../src/store/record';
import { logLines, logPath, refusal, stateDir } from './fixtures';

describe('audit records', () => {
  it('hash SHA-256 over prev followed by the canonical JSON without hash', async () => {
    const dir = await stateDir('record-');
    const at = new Date('2025-03-04T05:06:07.089Z');
    const store = await openStore(dir, { now: () => at });
    const first = await store.audit.append({
      requestId: 'r1',
      outcome: 'refused',
      endpoint: 'sign/root',
      client: 'ci',
      keyIds: ['b', 'a'],
    });
    await store.close();
    const body =
      '{"client":"ci","endpoint":"sign/root","keyIds":["b","a"],"outcome":"refused",' +
      `"prev":"${'0'.repeat(64)}","requestId":"r1","seq":1,"time":"2025-03-04T05:06:07.089Z"}`;
    const hash = createHash('sha256')
      .update('0'.repeat(64) + body)
      .digest('hex');
    expect(first.hash).toBe(hash);
    expect(await logLines(dir)).toEqual([
      body.replace(',"keyIds"', `,"hash":"${hash}","keyIds"`) + '\n',
    ]);
  });

  it('writes exactly canonicalJson of the entry, whatever members and characters it has', () => {
    const texts = ['', 'a"b\\c', 'ü€😀', '\u2028\u2029\u007f', '\ud83d', 'tab\there', '</script>'];
    const inputs: AuditInput[] = [
      { client: 'c', endpoint: 'e', outcome: 'refused' },
      { client: 'c', endpoint: 'e', outcome: 'recovered', reason: 'r' },
      ...texts.map((t, i) => ({
        client: t,
        endpoint: t,
        gun: t,
        role: t,
        version: i === 0 ? Number.MAX_SAFE_INTEGER : -i,
        payloadDigest: t,
        keyIds: i === 1 ? [] : [t, t],
        outcome: 'failed' as const,
        code: t,
        reason: t,
        requestId: t,
      })),
    ];
    let prev = '0'.repeat(64);
    inputs.forEach((input, i) => {
      const { entry, line } = sealRecord(
        normalizeInput(input),
        i + 1,
        '2025-01-01T00:00:00.000Z',
        prev,
      );
      expect(line).toBe(canonicalJson(entry as unknown as JsonObject) + '\n');
      const { hash, ...body } = entry;
      const expected = createHash('sha256')
        .update(prev + canonicalJson(body as unknown as JsonObject))
        .digest('hex');
      expect(hash).toBe(expected);
      prev = hash;
    });
  });

  it('stores what canonical JSON cannot carry as U+FFFD, and cuts overlong text', async () => {
    const dir = await stateDir('record-');
    const store = await openStore(dir);
    const e = await store.audit.append(
      refusal(1, {
        gun: 'evil\u001b[31m\nname',
        reason: 'x'.repeat(5000),
        code: 'lone \ud800 surrogate',
        keyIds: ['\u0000'],
      }),
    );
    await store.close();
    expect(e.gun).toBe('evil\ufffd[31m\ufffdname');
    expect(e.code).toBe('lone \ufffd surrogate');
    expect(e.keyIds).toEqual(['\ufffd']);
    expect(e.reason).toBe('x'.repeat(4096) + '…');
    const read = [];
    for await (const r of readAudit(logPath(dir))) read.push(r);
    expect(read).toEqual([e]);
  });

  it('keeps only the members it knows and leaves undefined ones out', async () => {
    const dir = await stateDir('record-');
    const store = await openStore(dir);
    const input = { client: 'ci', endpoint: 'x', outcome: 'refused', gun: undefined, pin: '1234' };
    const e = await store.audit.append(input as AuditInput);
    await store.close();
    expect(Object.keys(e).sort()).toEqual(
      ['client', 'endpoint', 'hash', 'outcome', 'prev', 'seq', 'time'].sort(),
    );
    expect((await logLines(dir))[0]).not.toContain('1234');
  });

  it('refuses members of the wrong type', async () => {
    const dir = await stateDir('record-');
    const store = await openStore(dir);
    const bad: unknown[] = [
      { endpoint: 'x', outcome: 'refused' },
      { client: 1, endpoint: 'x', outcome: 'refused' },
      { client: 'c', endpoint: 'x', outcome: 'maybe' },
      { client: 'c', endpoint: 'x', outcome: 'refused', version: 1.5 },
      { client: 'c', endpoint: 'x', outcome: 'refused', version: '3' },
      { client: 'c', endpoint: 'x', outcome: 'refused', keyIds: 'a' },
      { client: 'c', endpoint: 'x', outcome: 'refused', keyIds: [1] },
      { client: 'c', endpoint: 'x', outcome: 'refused', reason: {} },
    ];
    for (const input of bad) {
      await expect(store.audit.append(input as AuditInput)).rejects.toThrowWithCode(
        'AUDIT_RECORD_INVALID',
      );
    }
    expect(store.audit.head().seq).toBe(0);
    await store.close();
  });
});
