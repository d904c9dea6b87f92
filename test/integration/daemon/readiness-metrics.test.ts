/**
 * What an operator sees of the tokens, on the real daemon process: a wrong PIN makes
 * `/readyz` 503 naming the token from the start (the daemon opens and logs in its tokens
 * before it listens, and logs why one is not usable); `/metrics` has
 * `notary_hsmd_token_present` and the PIN state each token reports, signature and refusal
 * counters, prom-client's default process metrics and a build-info metric; a token pulled
 * out (the fault shim's `present=0`, below pkcs11js) sets `token_present` to 0 and makes
 * `/readyz` 503; a PIN at its final try shows as `final_try`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, errorOf, rootCertificate } from '../../helpers/daemon-api';
import { writeConfigVariant } from '../../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { buildFaultShim, FaultControl } from '../../helpers/fault-shim';
import { recordTestPins } from '../../helpers/pin-registry';
import { makeTempDir } from '../../helpers/tmp';

const GUN = 'localhost:5000/e2e/metrics';
const WRONG_PIN = '604215';

/** The value of one sample of `/metrics`, by name and exact label set (undefined if absent). */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const p of (m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      have[p[1] as string] = p[2] as string;
    }
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function metrics(daemon: DaemonProcess): Promise<string> {
  const res = await call(daemon.url, { path: '/metrics' });
  expect(res.status).toBe(200);
  return res.text;
}

describe('daemon readiness and metrics', () => {
  let setup: DaemonSetup;
  const daemons: DaemonProcess[] = [];
  beforeAll(async () => {
    setup = await makeDaemonSetup();
  });
  afterAll(async () => {
    for (const d of daemons) await d.stop();
  });
  async function start(config: string): Promise<DaemonProcess> {
    const d = await startDaemonProcess(config);
    daemons.push(d);
    return d;
  }

  it('a wrong PIN: /readyz is 503 naming the token from the start, and the log says why', async () => {
    recordTestPins(WRONG_PIN);
    writeFileSync(join(setup.dir, 'wrong.pin'), `${WRONG_PIN}\n`, { mode: 0o600 });
    const config = writeConfigVariant(setup, 'wrong-pin.yaml', (doc) => {
      (doc.tokens as { pin: string }[])[0]!.pin = 'file:wrong.pin';
      doc.state_dir = 'state-wrong-pin';
    });
    const daemon = await start(config);
    const ready = await call(daemon.url, { path: '/readyz' });
    expect(ready.status).toBe(503);
    const problems = (ready.body as { problems: string[] }).problems;
    expect(problems).toEqual([
      expect.stringMatching(/^soft: .*PIN .*refused by token soft/),
      // the audit checkpoint is kept on that token: nothing is signed without it
      expect.stringMatching(/^audit: cannot read the audit checkpoint from token soft .*refused/),
    ]);
    expect(daemon.output()).toMatch(/token not usable/);
    expect(daemon.output()).toMatch(/PIN_INCORRECT/);
    // a signature is refused — before the token is tried: the audit log cannot be checked
    // against its checkpoint on that token — and the daemon is still not ready after it
    const cert = await call(daemon.url, {
      path: '/v1/certificates/root',
      token: setup.adminToken,
      json: { gun: GUN, key: 'root' },
    });
    expect(errorOf(cert).code).toBe('AUDIT_UNAVAILABLE');
    expect((await call(daemon.url, { path: '/readyz' })).status).toBe(503);
    expect(
      sample(await metrics(daemon), 'notary_hsmd_signatures_total', {
        endpoint: 'certificates/root',
      }),
    ).toBeUndefined();
  });

  it('token gauges, counters, process and build metrics; a pulled token sets token_present to 0', async () => {
    const [shim, dir] = await Promise.all([buildFaultShim(), makeTempDir('metrics-shim-')]);
    const control = new FaultControl(dir);
    const config = writeConfigVariant(setup, 'shim.yaml', (doc) => {
      const token = (doc.tokens as Record<string, unknown>[])[0]!;
      token.profile = 'generic';
      token.module = shim;
      token.environment = { ...(token.environment as object), ...control.env };
      doc.state_dir = 'state-shim';
    });
    const daemon = await start(config);
    expect((await call(daemon.url, { path: '/readyz' })).status).toBe(200);

    let text = await metrics(daemon);
    expect(sample(text, 'notary_hsmd_token_present', { token: 'soft' })).toBe(1);
    expect(sample(text, 'notary_hsmd_token_pin_state', { token: 'soft', state: 'ok' })).toBe(1);
    expect(sample(text, 'notary_hsmd_token_pin_state', { token: 'soft', state: 'unknown' })).toBe(
      0,
    );
    expect(
      sample(text, 'notary_hsmd_build_info', { version: '0.1.0', node: process.version }),
    ).toBe(1);
    expect(sample(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeDefined();
    expect(
      sample(text, 'notary_hsmd_signatures_total', { endpoint: 'certificates/root' }),
    ).toBeUndefined();

    // one signature, one refusal
    await rootCertificate(daemon.url, setup.adminToken, GUN);
    const refused = await call(daemon.url, {
      path: '/v1/certificates/root',
      token: setup.ciToken,
      json: { gun: GUN, key: 'root' },
    });
    expect(refused.status).toBe(403);
    text = await metrics(daemon);
    expect(sample(text, 'notary_hsmd_signatures_total', { endpoint: 'certificates/root' })).toBe(1);
    expect(
      sample(text, 'notary_hsmd_refusals_total', {
        endpoint: 'certificates/root',
        code: errorOf(refused).code,
      }),
    ).toBe(1);

    control.set({ pin_state: 'final_try' });
    text = await metrics(daemon);
    expect(sample(text, 'notary_hsmd_token_pin_state', { token: 'soft', state: 'final_try' })).toBe(
      1,
    );
    expect(sample(text, 'notary_hsmd_token_pin_state', { token: 'soft', state: 'ok' })).toBe(0);

    control.set({ present: 0 });
    text = await metrics(daemon);
    expect(sample(text, 'notary_hsmd_token_present', { token: 'soft' })).toBe(0);
    const ready = await call(daemon.url, { path: '/readyz' });
    expect(ready.status).toBe(503);
    expect((ready.body as { problems: string[] }).problems).toEqual([
      expect.stringMatching(/^soft: /),
    ]);

    control.set({ present: 1 });
    text = await metrics(daemon);
    expect(sample(text, 'notary_hsmd_token_present', { token: 'soft' })).toBe(1);
  });
});
