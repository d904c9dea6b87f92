/**
 * The signing state: a version is handed out at most once per GUN and role, refusals name
 * the last version, concurrent requests for one version have exactly one winner, and the
 * state is rebuilt from the log after a restart (from `signed` records only).
 */
import type { AuditEntry } from '../../../src/signing/types';
import { openStore, readAudit, type ReserveInput } from '../../../src/store';
import { GUN, deferred, logPath, refusal, signing, stateDir, TestIo, until } from './fixtures';

async function signedRecords(dir: string): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAudit(logPath(dir))) if (e.outcome === 'signed') out.push(e);
  return out;
}

describe('SigningState', () => {
  it('refuses a version that is not above the last one signed, naming it', async () => {
    const dir = await stateDir('state-');
    const store = await openStore(dir);
    expect(store.state.lastVersion(GUN, 'targets')).toBeUndefined();
    await expect(store.state.reserve(signing(3))).resolves.toMatchObject({
      outcome: 'signed',
      gun: GUN,
      role: 'targets',
      version: 3,
    });
    expect(store.state.lastVersion(GUN, 'targets')).toBe(3);
    for (const v of [3, 2]) {
      const err = await store.state.reserve(signing(v)).catch((e: unknown) => e);
      expect(err).toThrowWithCode('VERSION_ROLLBACK');
      expect((err as Error).message).toContain(`version ${v} of targets for ${GUN}`);
      expect((err as Error).message).toContain('version 3, the last one signed');
      expect((err as { details: unknown }).details).toEqual({
        gun: GUN,
        role: 'targets',
        version: v,
        lastVersion: 3,
        lastSignedAgeMs: expect.any(Number) as unknown,
      });
    }
    // other roles and GUNs have their own versions
    await expect(store.state.reserve(signing(1, 'targets/ci'))).resolves.toBeDefined();
    await expect(store.state.reserve(signing(1, 'targets', `${GUN}2`))).resolves.toBeDefined();
    await expect(store.state.reserve(signing(4))).resolves.toMatchObject({ version: 4 });
    await store.close();
    expect((await signedRecords(dir)).map((e) => [e.role, e.version])).toEqual([
      ['targets', 3],
      ['targets/ci', 1],
      ['targets', 1],
      ['targets', 4],
    ]);
  });

  it('refuses a version further above the last one than the bounds allow, and a first version beyond firstMax', async () => {
    const dir = await stateDir('state-');
    const store = await openStore(dir);
    const bounds = { maxStep: 10, firstMax: 100 };
    const first = await store.state.reserve(signing(101), bounds).catch((e: unknown) => e);
    expect(first).toThrowWithCode('VERSION_JUMP');
    expect((first as { details: unknown }).details).toMatchObject({ maxVersion: 100 });
    await expect(store.state.reserve(signing(100), bounds)).resolves.toMatchObject({
      version: 100,
    });
    const far = await store.state.reserve(signing(111), bounds).catch((e: unknown) => e);
    expect(far).toThrowWithCode('VERSION_JUMP');
    expect((far as Error).message).toContain('beyond version 110');
    // 2^53 − 1 would block the role forever: refused, and the role still moves on by steps
    const max = await store.state
      .reserve(signing(Number.MAX_SAFE_INTEGER), bounds)
      .catch((e: unknown) => e);
    expect(max).toThrowWithCode('VERSION_JUMP');
    await expect(store.state.reserve(signing(110), bounds)).resolves.toMatchObject({
      version: 110,
    });
    await store.close();
    expect((await signedRecords(dir)).map((e) => e.version)).toEqual([100, 110]);
  });

  it('lets exactly one of ten concurrent requests for one version win', async () => {
    const dir = await stateDir('state-');
    const store = await openStore(dir);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => store.state.reserve(signing(5))),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') {
        expect(r.reason).toThrowWithCode('VERSION_ROLLBACK');
        expect((r.reason as Error).message).toContain('the last one being signed');
      }
    }
    await store.close();
    expect((await signedRecords(dir)).map((e) => e.version)).toEqual([5]);
  });

  it('claims a version before it is durable, and reports it only once it is', async () => {
    const dir = await stateDir('state-');
    const io = new TestIo();
    const store = await openStore(dir, { io });
    const gate = deferred();
    io.gate = gate.promise;
    const pending = store.state.reserve(signing(2));
    await until(() => io.syncs === 1);
    expect(store.state.lastVersion(GUN, 'targets')).toBeUndefined();
    await expect(store.state.reserve(signing(2))).rejects.toThrowWithCode('VERSION_ROLLBACK');
    await expect(store.state.reserve(signing(1))).rejects.toThrowWithCode('VERSION_ROLLBACK');
    io.gate = undefined;
    gate.resolve();
    await pending;
    expect(store.state.lastVersion(GUN, 'targets')).toBe(2);
    await store.close();
  });

  it('survives close and reopen, counting signed records only', async () => {
    const dir = await stateDir('state-');
    const store = await openStore(dir);
    await store.state.reserve(signing(8));
    await store.state.reserve(signing(2, 'targets/ci'));
    // refusals and failures that name higher versions do not move the state
    await store.audit.append(refusal(50, { role: 'targets' }));
    await store.audit.append({ ...signing(60), outcome: 'failed', code: 'TOKEN_TIMEOUT' });
    // a versionless signature (a root certificate) is not a version
    await store.audit.append({ client: 'ci', endpoint: 'certificates/root', outcome: 'signed' });
    await store.close();
    const again = await openStore(dir);
    expect(again.state.lastVersion(GUN, 'targets')).toBe(8);
    expect(again.state.lastVersion(GUN, 'targets/ci')).toBe(2);
    expect(again.state.lastVersion(GUN, 'root')).toBeUndefined();
    await expect(again.state.reserve(signing(8))).rejects.toThrowWithCode('VERSION_ROLLBACK');
    await expect(again.state.reserve(signing(9))).resolves.toMatchObject({ seq: 6 });
    await again.close();
  });

  it('takes versioned signatures only through reserve, and only well-formed ones', async () => {
    const dir = await stateDir('state-');
    const store = await openStore(dir);
    await expect(store.audit.append(signing(1))).rejects.toThrowWithCode('AUDIT_RECORD_INVALID');
    const bad: ReserveInput[] = [
      { ...signing(1), version: 0 },
      { ...signing(1), version: 1.5 },
      { ...signing(1), version: Number.MAX_SAFE_INTEGER + 1 },
      { ...signing(1), gun: '' },
      { ...signing(1), gun: `${GUN}\n` },
      { ...signing(1), role: 'targets\u0000x' },
      { ...signing(1), outcome: 'refused' } as unknown as ReserveInput,
    ];
    for (const input of bad) {
      await expect(store.state.reserve(input)).rejects.toThrowWithCode('AUDIT_RECORD_INVALID');
    }
    // none of them claimed anything
    await expect(store.state.reserve(signing(1))).resolves.toMatchObject({ seq: 1 });
    await store.close();
  });
});
