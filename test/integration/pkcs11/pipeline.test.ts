/**
 * A token owner with a pipeline (more operations sent to the module host than the token
 * has sessions), through the real path with the fault shim: the extra ones wait in the
 * host's gate, never in the module. Every signature verifies; a removal fails those
 * waiting in the host at once; one that waits there past its timeout never reaches the
 * module; the waiting ones count for queueLimit; a wrong PIN is still tried once.
 */
import { TokenOwner } from '../../../src/pkcs11';
import {
  KEY,
  PIN,
  WRONG_PIN,
  codeOf,
  envPin,
  makeTokens,
  message,
  outcome,
  shimHost,
  sleep,
  verifies,
  waitFor,
  type Outcome,
  type ShimHost,
} from './fault-fixture';

let rig: ShimHost | undefined;

async function start(
  label: string,
  setup: Record<string, string | number> = {},
): Promise<ShimHost> {
  rig = await shimHost(await makeTokens([label]), setup);
  return rig;
}

afterEach(async () => {
  await rig?.host.close();
  rig = undefined;
});

function pipelined(
  { host }: ShimHost,
  label: string,
  opts: { pipeline: number; queueLimit?: number; timeoutMs?: number; pin?: string },
): TokenOwner {
  return new TokenOwner({
    name: label,
    host,
    selector: { label },
    pin: envPin(opts.pin ?? PIN),
    sessions: 1,
    pipeline: opts.pipeline,
    queueLimit: opts.queueLimit ?? 256,
    timeoutMs: opts.timeoutMs ?? 30_000,
  });
}

describe('a pipeline of 16 on one session', () => {
  it('signs in order, and a removal fails what waits in the host at once', async () => {
    const r = await start('pipe', { remove_after_signs: 50 });
    const owner = pipelined(r, 'pipe', { pipeline: 16, queueLimit: 1000 });
    expect(owner.pipeline).toBe(16);
    const key = await owner.findKey(KEY);

    const msgs = Array.from({ length: 200 }, (_, i) => message(`pipe ${i}`));
    const outs = await Promise.all(msgs.map((m) => outcome(owner.sign(KEY, m.digest))));

    // One session: the module signs strictly in arrival order, 50 then the removal.
    const okIdx = outs.flatMap((o, i) => (o.ok ? [i] : []));
    expect(okIdx).toEqual(Array.from({ length: 50 }, (_, i) => i));
    for (const i of okIdx) {
      const o = outs[i] as Outcome<Buffer> & { ok: true };
      expect(verifies(key.spki, (msgs[i] as { data: Buffer }).data, o.value)).toBe(true);
    }
    const failed = outs.filter((o) => !o.ok);
    expect(new Set(failed.map(codeOf))).toEqual(new Set(['TOKEN_NOT_PRESENT']));
    const firstFailure = Math.min(...failed.map((o) => o.at));
    expect(Math.max(...outs.map((o) => o.at)) - firstFailure).toBeLessThan(1000);
    expect(r.control.stats()).toMatchObject({ sign_ok: 50, removals: 1 });
    expect(owner.depth).toBe(0);

    r.control.set({ remove_after_signs: '', generation: 1 });
    const more = Array.from({ length: 40 }, (_, i) => message(`back ${i}`));
    const sigs = await Promise.all(more.map((m) => owner.sign(KEY, m.digest)));
    sigs.forEach((sig, i) =>
      expect(verifies(key.spki, (more[i] as { data: Buffer }).data, sig)).toBe(true),
    );
    expect(r.control.stats()).toMatchObject({ login_calls: 2, login_ok: 2 });
  });
});

describe('requests waiting in the host behind a touch', () => {
  it('count for queueLimit, time out, and never reach the module', async () => {
    const r = await start('pipe-touch');
    const owner = pipelined(r, 'pipe-touch', { pipeline: 4, queueLimit: 2, timeoutMs: 500 });
    const key = await owner.findKey(KEY);

    r.control.set({ sign_delay_ms: -1 }); // the touch never comes (until released)
    const stuck = outcome(owner.sign(KEY, message('stuck').digest));
    await waitFor('the sign to wait for its touch', () => r.control.stats().sign_waiting === 1);
    const initsBefore = r.control.stats().sign_init_calls;
    // Two more are sent to the host and wait in its gate: queueLimit 2 is reached.
    const waiting = [
      outcome(owner.sign(KEY, message('waits 1').digest)),
      outcome(owner.sign(KEY, message('waits 2').digest)),
    ];
    const busy = await outcome(owner.sign(KEY, message('one too many').digest));
    expect(codeOf(busy)).toBe('TOKEN_BUSY');
    expect(owner.depth).toBe(3);

    const outs = await Promise.all([stuck, ...waiting]);
    expect(outs.map(codeOf)).toEqual(['TOKEN_TIMEOUT', 'TOKEN_TIMEOUT', 'TOKEN_TIMEOUT']);
    await sleep(100);
    expect(owner.depth).toBe(3); // the host has answered none of them yet
    expect(r.control.stats()).toMatchObject({ sign_waiting: 1, sign_calls: 1 });

    r.control.set({ sign_delay_ms: 0 }); // touched: the stuck one signs, the others expire
    await waitFor('the host to answer all three', () => owner.depth === 0, 3000);
    expect(r.control.stats()).toMatchObject({
      sign_waiting: 0,
      sign_calls: 1,
      sign_init_calls: initsBefore,
    });
    const m = message('after the touch');
    expect(verifies(key.spki, m.data, await owner.sign(KEY, m.digest))).toBe(true);
  });
});

describe('a wrong PIN with a pipeline', () => {
  it('is tried once for all the requests that arrive together', async () => {
    const r = await start('pipe-pin', { pin_tries: 3 });
    const owner = pipelined(r, 'pipe-pin', { pipeline: 8, pin: WRONG_PIN });
    const outs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => outcome(owner.sign(KEY, message(`p ${i}`).digest))),
    );
    expect(outs.map(codeOf)).toEqual(Array<string>(8).fill('PIN_INCORRECT'));
    expect(r.control.stats()).toMatchObject({ login_calls: 1, pin_tries_left: 2 });
  });
});
