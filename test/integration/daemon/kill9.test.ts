/**
 * notary-hsmd killed with SIGKILL in the middle of a burst of delegation signatures, twice,
 * over one state directory. 32 keep-alive clients share 16 GUNs (2 per GUN) and race for
 * the same versions: each asks for the next version above the highest one any client of
 * its GUN got signed, with a payload of its own, so a version handed out twice would show
 * as two answers or two `signed` records for one GUN and version, with different bytes.
 *
 * After each kill the daemon restarts on the same configuration; before the second
 * restart the test also leaves what a power cut (or a write cut short) can leave: half a
 * record after the last one, which the store must cut away and record as `recovered`.
 * Then: `notary-hsm audit verify` passes; no (GUN, role, version) is signed twice; every
 * signature a client received verifies and has its `signed` record (same request ID,
 * version, payload digest and key ID); nothing answered with a refusal was signed, and
 * nothing was signed that no client asked for; after each restart the daemon refuses, for
 * every GUN, the highest version signed, the one below it and version 1 (VERSION_ROLLBACK;
 * the highest is often one whose answer the kill swallowed), and in the end signs the
 * next one; /healthz answers after every restart.
 */
import { appendFile } from 'node:fs/promises';
import type { Agent } from 'node:http';
import { join } from 'node:path';
import { main } from '../../../src/cli/main';
import type { JsonObject } from '../../../src/metadata/json';
import type { TufKey } from '../../../src/metadata/keys';
import type { AuditEntry } from '../../../src/signing/types';
import { AUDIT_LOG_FILE } from '../../../src/store';
import {
  auditRecords,
  call,
  daemonKeys,
  errorOf,
  payloadDigest,
  send,
  signaturesOf,
  signatureVerifies,
  targetsDoc,
  type WireSig,
} from '../../helpers/daemon-api';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { keepAliveAgent } from '../../helpers/raw-http';

const GUNS = Array.from({ length: 16 }, (_, i) => `localhost:5000/e2e/kill${i}`);
const ROLE = 'targets/ci';
const CLIENTS = 32;
/** Responses before each kill. */
const KILL_AFTER = [600, 400];
/** What half a record looks like: a line cut short, no newline. */
const TORN = '{"client":"ci","endpoint":"sign/delegation","gun":"localhost:5000/e2e/kil';

/** One request of the burst and what became of it. */
interface Sent {
  readonly id: string;
  readonly cycle: number;
  readonly gun: string;
  readonly version: number;
  readonly signed: JsonObject;
  /** ok: signatures; refused: a 4xx with a code; unknown: no answer (the kill). */
  outcome: 'ok' | 'refused' | 'unknown' | 'unexpected';
  code?: string;
  sigs?: WireSig[];
  detail?: string;
}

function cli(): {
  io: { out: (t: string) => void; err: (t: string) => void; env: NodeJS.ProcessEnv };
  out: string[];
  err: string[];
} {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => void out.push(t), err: (t) => void err.push(t), env: {} }, out, err };
}

describe('notary-hsmd killed -9 mid-burst', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess | undefined;
  let ciKey: TufKey;
  const sent: Sent[] = [];
  /** Highest version any client of each GUN got signed. */
  const highestOk = new Map<string, number>(GUNS.map((g) => [g, 0]));
  let seq = 0;
  const figures = {
    requests: 0,
    ok: 0,
    refused: 0,
    unknown: 0,
    signedUnanswered: 0,
    kills: 0,
    records: 0,
  };

  beforeAll(async () => {
    setup = await makeDaemonSetup({ ciPaths: ['v*'] });
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  async function start(): Promise<DaemonProcess> {
    const d = await startDaemonProcess(setup.config);
    daemon = d;
    ciKey = (await daemonKeys(d.url, setup.adminToken)).get('ci') as TufKey;
    return d;
  }

  async function signOnce(
    d: DaemonProcess,
    gun: string,
    version: number,
    tag: string,
    agent?: Agent,
  ) {
    const signed = targetsDoc(version, [`v${version}-${tag}`]);
    const id = `k-${tag}-${version}-${++seq}`;
    const res = await call(
      d.url,
      {
        path: '/v1/sign/delegation',
        token: setup.ciToken,
        json: { gun, role: ROLE, signed },
        requestId: id,
      },
      agent ? { agent, timeoutMs: 20_000 } : { timeoutMs: 20_000 },
    );
    return { id, signed, res };
  }

  /** 32 clients sign until `killAfter` answers arrived, then the daemon is killed -9. */
  async function burst(d: DaemonProcess, cycle: number, killAfter: number): Promise<void> {
    let answers = 0;
    let killing: Promise<void> | undefined;
    const tried = new Array<number>(CLIENTS).fill(0);
    const worker = async (w: number): Promise<void> => {
      const agent = keepAliveAgent(1);
      const gun = GUNS[w % GUNS.length] as string;
      try {
        while (killing === undefined) {
          const version = Math.max(tried[w] ?? 0, highestOk.get(gun) ?? 0) + 1;
          tried[w] = version;
          const signed = targetsDoc(version, [`v${version}-c${cycle}w${w}`]);
          const id = `c${cycle}-w${w}-v${version}-${++seq}`;
          const s: Sent = { id, cycle, gun, version, signed, outcome: 'unknown' };
          sent.push(s);
          let res;
          try {
            res = await call(
              d.url,
              {
                path: '/v1/sign/delegation',
                token: setup.ciToken,
                json: { gun, role: ROLE, signed },
                requestId: id,
              },
              { agent, timeoutMs: 20_000 },
            );
          } catch (err) {
            s.detail = (err as Error).message;
            return; // no answer: the daemon is gone
          }
          if (res.status === 200) {
            s.outcome = 'ok';
            s.sigs = signaturesOf(res);
            highestOk.set(gun, Math.max(highestOk.get(gun) ?? 0, version));
          } else if (res.status >= 400 && res.status < 500) {
            s.outcome = 'refused';
            s.code = errorOf(res).code;
          } else {
            s.outcome = 'unexpected';
            s.detail = `${res.status} ${res.text.slice(0, 200)}`;
          }
          if (++answers >= killAfter && killing === undefined) {
            figures.kills++;
            killing = d.kill9();
          }
        }
      } finally {
        agent.destroy();
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, w) => worker(w)));
    await killing;
    expect(d.child.exitCode === null && d.child.signalCode === 'SIGKILL').toBe(true);
    // The kill came while requests were in flight, after the answers asked for.
    const mine = sent.filter((s) => s.cycle === cycle);
    expect(mine.filter((s) => s.outcome !== 'unknown').length).toBeGreaterThanOrEqual(killAfter);
    expect(mine.filter((s) => s.outcome === 'unknown').length).toBeGreaterThan(0);
    expect(mine.filter((s) => s.outcome === 'unexpected').map((s) => s.detail)).toEqual([]);
  }

  async function auditVerifies(): Promise<void> {
    const c = cli();
    const code = await main(['audit', 'verify', '--state-dir', setup.stateDir], c.io);
    expect({ code, err: c.err.join('') }).toEqual({ code: 0, err: '' });
    expect(c.out.join('')).toMatch(/^audit log OK: \d+ records/);
  }

  /** Highest signed version per GUN, from the log. */
  function highestSigned(records: readonly AuditEntry[]): Map<string, number> {
    const out = new Map<string, number>(GUNS.map((g) => [g, 0]));
    for (const r of records) {
      if (
        r.outcome === 'signed' &&
        r.role === ROLE &&
        r.gun !== undefined &&
        r.version !== undefined
      ) {
        out.set(r.gun, Math.max(out.get(r.gun) ?? 0, r.version));
      }
    }
    return out;
  }

  /** The restarted daemon refuses every version at or below the highest signed, per GUN. */
  async function refusesRollback(d: DaemonProcess, records: readonly AuditEntry[]): Promise<void> {
    const seen: Record<string, string[]> = {};
    const want: Record<string, string[]> = {};
    for (const [gun, top] of highestSigned(records)) {
      expect(top).toBeGreaterThan(0);
      seen[gun] = [];
      want[gun] = [];
      for (const v of [top, top - 1, 1].filter((x, i, a) => x >= 1 && a.indexOf(x) === i)) {
        const { id, res } = await signOnce(d, gun, v, 'rollback');
        const code = res.status === 200 ? 'SIGNED' : errorOf(res).code;
        seen[gun].push(`${v} ${res.status} ${code}`);
        want[gun].push(`${v} 409 VERSION_ROLLBACK`);
        sent.push({
          id,
          cycle: -1,
          gun,
          version: v,
          signed: {},
          outcome: res.status === 200 ? 'ok' : 'refused',
          code,
        });
      }
    }
    expect(seen).toEqual(want);
  }

  it('survives two kills mid-burst with its log, versions and signatures consistent', async () => {
    let d = await start();
    for (let cycle = 0; cycle < KILL_AFTER.length; cycle++) {
      await burst(d, cycle, KILL_AFTER[cycle] as number);
      if (cycle === KILL_AFTER.length - 1) {
        // What a cut-short write leaves: half a record, no newline.
        await appendFile(join(setup.stateDir, AUDIT_LOG_FILE), TORN);
      }
      d = await start();
      expect((await send(d.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
      await auditVerifies();
      await refusesRollback(d, await auditRecords(setup.stateDir));
    }

    // The cut was recorded, at least as long as what was left.
    const records = await auditRecords(setup.stateDir);
    const recovered = records.filter((r) => r.outcome === 'recovered');
    expect(recovered.length).toBeGreaterThanOrEqual(1);
    const cut = Number(/truncated (\d+) bytes/.exec(recovered.at(-1)?.reason ?? '')?.[1]);
    expect(cut).toBeGreaterThanOrEqual(TORN.length);

    // No GUN/role/version signed twice.
    const signedRecs = records.filter(
      (r) => r.outcome === 'signed' && r.endpoint === 'sign/delegation',
    );
    const byVersion = new Map<string, AuditEntry[]>();
    for (const r of signedRecs) {
      const k = `${r.gun ?? ''} ${r.role ?? ''} ${String(r.version)}`;
      byVersion.set(k, [...(byVersion.get(k) ?? []), r]);
    }
    expect([...byVersion].filter(([, rs]) => rs.length > 1).map(([k]) => k)).toEqual([]);

    // No two clients were answered with signatures for one GUN and version.
    const okAnswers = sent.filter((s) => s.outcome === 'ok');
    const okKeys = okAnswers.map((s) => `${s.gun} ${s.version}`);
    expect(okKeys.filter((k, i) => okKeys.indexOf(k) !== i)).toEqual([]);

    // Every signature a client got verifies and has its `signed` record.
    const byId = new Map(
      records.filter((r) => r.clientRequestId !== undefined).map((r) => [r.clientRequestId, r]),
    );
    const problems: string[] = [];
    for (const s of okAnswers.filter((x) => x.cycle >= 0)) {
      const rec = byId.get(s.id);
      const sig = s.sigs?.[0];
      const fits =
        rec !== undefined &&
        rec.outcome === 'signed' &&
        rec.gun === s.gun &&
        rec.role === ROLE &&
        rec.version === s.version &&
        rec.payloadDigest === payloadDigest(s.signed) &&
        s.sigs?.length === 1 &&
        sig !== undefined &&
        JSON.stringify(rec.keyIds) === JSON.stringify([sig.keyid]) &&
        sig.keyid === ciKey.id &&
        signatureVerifies(ciKey, s.signed, sig);
      if (!fits) problems.push(`${s.id}: ${JSON.stringify(rec)}`);
    }
    // Nothing refused was signed; nothing signed that no client asked for.
    const sentById = new Map(sent.map((s) => [s.id, s]));
    for (const r of signedRecs) {
      const s = sentById.get(r.clientRequestId ?? '');
      if (s === undefined)
        problems.push(`signed record for a request never sent: ${JSON.stringify(r)}`);
      else if (s.outcome !== 'ok' && s.outcome !== 'unknown') {
        problems.push(`${s.id} was answered ${s.code ?? s.outcome} but is signed`);
      }
    }
    // Every refusal a client saw is recorded with its code.
    for (const s of sent.filter((x) => x.outcome === 'refused')) {
      const rec = byId.get(s.id);
      if (rec?.outcome !== 'refused' || rec.code !== s.code) {
        problems.push(`${s.id}: refused ${s.code ?? ''}, recorded ${JSON.stringify(rec)}`);
      }
    }
    expect(problems).toEqual([]);

    // The restarted daemon signs the next version of every GUN.
    const top = highestSigned(records);
    for (const gun of GUNS) {
      const v = (top.get(gun) ?? 0) + 1;
      const { res, signed } = await signOnce(d, gun, v, 'after');
      const [sig] = signaturesOf(res);
      expect(sig !== undefined && signatureVerifies(ciKey, signed, sig)).toBe(true);
    }
    expect(await d.stop()).toBe(0);
    daemon = undefined;
    await auditVerifies();

    figures.requests = sent.length;
    figures.ok = okAnswers.length;
    figures.refused = sent.filter((s) => s.outcome === 'refused').length;
    figures.unknown = sent.filter((s) => s.outcome === 'unknown').length;
    figures.signedUnanswered = signedRecs.filter(
      (r) => sentById.get(r.clientRequestId ?? '')?.outcome === 'unknown',
    ).length;
    figures.records = (await auditRecords(setup.stateDir)).length;
    console.log(`kill9 figures: ${JSON.stringify(figures)}`);
    expect(figures.kills).toBe(KILL_AFTER.length);
  });
});
