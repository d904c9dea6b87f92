/**
 * One token signing through two module hosts (processes) at once — TokenOwner `signHosts`,
 * what the softhsm2 profile's `signHosts: 2` turns on. Each host loads the fault shim in
 * front of SoftHSM2 with a stats file of its own, so the shim's counters say which process
 * did what: both sign, each logs in once, a wrong PIN reaches the token once in all, and
 * everything but signatures stays on the first host.
 */
import { ModuleHost, TokenOwner } from '../../../src/pkcs11';
import { buildFaultShim, FaultControl } from '../../helpers/fault-shim';
import type { SoftHsmToken } from '../../helpers/softhsm';
import { makeTempDir } from '../../helpers/tmp';
import {
  KEY,
  PIN,
  WRONG_PIN,
  codeOf,
  envPin,
  makeTokens,
  message,
  outcome,
  verifies,
} from './fault-fixture';

let hosts: ModuleHost[] = [];

afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});

/** Two shim hosts over the same token directory, each with its own control and stats. */
async function twoHosts(
  token: SoftHsmToken,
): Promise<{ hosts: ModuleHost[]; controls: FaultControl[] }> {
  const shim = await buildFaultShim();
  const controls = await Promise.all(
    [0, 1].map(async () => new FaultControl(await makeTempDir('sign-hosts-'))),
  );
  hosts = controls.map(
    (c) => new ModuleHost({ module: shim, env: { ...process.env, ...token.env, ...c.env } }),
  );
  return { hosts, controls };
}

function owner(label: string, [first, ...rest]: ModuleHost[], pin = PIN): TokenOwner {
  return new TokenOwner({
    name: label,
    host: first as ModuleHost,
    signHosts: rest,
    selector: { label },
    pin: envPin(pin),
    sessions: 1,
    pipeline: 32,
    queueLimit: 1000,
    syncSign: true,
  });
}

const sum = (controls: FaultControl[], key: string): number =>
  controls.reduce((n, c) => n + (c.stats()[key] ?? 0), 0);

describe('a token signing through two module hosts', () => {
  it('spreads a burst over both processes; every signature verifies; each logs in once', async () => {
    const token = await makeTokens(['lanes']);
    const { hosts: hs, controls } = await twoHosts(token);
    const o = owner('lanes', hs);
    expect(o.hosts).toHaveLength(2);
    const key = await o.findKey(KEY);
    // findKey runs on the first host only
    expect(controls[0]?.stats()).toMatchObject({ login_calls: 1 });
    expect(controls[1]?.stats().login_calls ?? 0).toBe(0);

    const msgs = Array.from({ length: 400 }, (_, i) => message(`lane ${i}`));
    const sigs = await Promise.all(msgs.map((m) => o.sign(KEY, m.digest)));
    sigs.forEach((sig, i) =>
      expect(verifies(key.spki, (msgs[i] as { data: Buffer }).data, sig)).toBe(true),
    );
    const [a, b] = controls.map((c) => c.stats());
    expect(a?.sign_ok).toBeGreaterThan(0);
    expect(b?.sign_ok).toBeGreaterThan(0);
    expect((a?.sign_ok ?? 0) + (b?.sign_ok ?? 0)).toBe(400);
    expect(a).toMatchObject({ login_calls: 1 });
    expect(b).toMatchObject({ login_calls: 1 });
    console.log(`two hosts: ${a?.sign_ok} and ${b?.sign_ok} of 400 signatures`);

    // keys generated on the first host are seen by the second (SoftHSM2 re-reads its store)
    await o.generateKey('later-key', '0b');
    const later = message('later');
    const laterSigs = await Promise.all(
      Array.from({ length: 64 }, () => o.sign({ label: 'later-key' }, later.digest)),
    );
    const laterKey = await o.findKey({ label: 'later-key' });
    for (const sig of laterSigs) expect(verifies(laterKey.spki, later.data, sig)).toBe(true);
    expect(controls[1]?.stats().sign_ok).toBeGreaterThan(b?.sign_ok ?? 0);
  });

  it('a wrong PIN reaches the token once in all, however many requests arrive together', async () => {
    const token = await makeTokens(['lanes-pin']);
    const { hosts: hs, controls } = await twoHosts(token);
    const o = owner('lanes-pin', hs, WRONG_PIN);
    const outs = await Promise.all(
      Array.from({ length: 50 }, (_, i) => outcome(o.sign(KEY, message(`w ${i}`).digest))),
    );
    expect(new Set(outs.map(codeOf))).toEqual(new Set(['PIN_INCORRECT']));
    expect(sum(controls, 'login_calls')).toBe(1);
    expect(controls[0]?.stats()).toMatchObject({ login_calls: 1 });
    // and never again by itself
    await expect(o.sign(KEY, message('again').digest)).rejects.toThrowWithCode('PIN_INCORRECT');
    expect(sum(controls, 'login_calls')).toBe(1);
    expect(sum(controls, 'sign_calls')).toBe(0);
  });
});
