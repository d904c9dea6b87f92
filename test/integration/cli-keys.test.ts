/**
 * `notary-hsm tokens`, `keys list` and `keys generate`: what the daemon sees, asked over
 * its API with a client token (a real notary-hsmd on a SoftHSM2 token). Each client sees
 * only the keys its scopes name; generating a key is for admins.
 */
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../helpers/daemon';
import { runCli } from '../helpers/run-cli';

const GUN = 'localhost:5000/e2e/app';

describe('notary-hsm tokens and keys', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    setup = await makeDaemonSetup();
    daemon = await startDaemonProcess(setup.config);
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  const as = (token: string, args: string[]) =>
    runCli(args, { NOTARY_HSM_SIGNER: daemon.url, NOTARY_HSM_TOKEN: token });

  it('tokens: the configured token, present, with its PIN state', async () => {
    const r = await as(setup.adminToken, ['tokens']);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(/^NAME\s+PROFILE\s+PRESENT\s+LABEL\s+SERIAL\s+PIN$/);
    expect(r.out).toMatch(/soft\s+softhsm2\s+yes\s+daemon-test/);
    const json = JSON.parse((await as(setup.ciToken, ['tokens', '--json'])).out) as {
      tokens: { name: string; present: boolean }[];
    };
    expect(json.tokens).toEqual([expect.objectContaining({ name: 'soft', present: true })]);
  });

  it('keys list: an admin sees every key, a scoped client only its own', async () => {
    const admin = JSON.parse((await as(setup.adminToken, ['keys', 'list', '--json'])).out) as {
      keys: { name: string; role: string; keyId: string }[];
    };
    // An admin sees every key; the CI client only its delegation key.
    expect(admin.keys.map((k) => `${k.name}:${k.role}`).sort()).toEqual([
      'ci:delegation',
      'root:root',
      'targets:targets',
    ]);
    for (const k of admin.keys) expect(k.keyId).toMatch(/^[0-9a-f]{64}$/);
    const ci = await as(setup.ciToken, ['keys', 'list', '--gun', GUN]);
    expect(ci.code).toBe(0);
    expect(ci.out).toMatch(/\nci\s+delegation\s+soft\s+[0-9a-f]{64}$/);
    const elsewhere = JSON.parse(
      (await as(setup.ciToken, ['keys', 'list', '--gun', 'localhost:5000/other/app', '--json']))
        .out,
    ) as { keys: unknown[] };
    expect(elsewhere.keys).toEqual([]);
  });

  it('keys generate: admins make keys on the token, others are refused', async () => {
    const refused = await as(setup.ciToken, [
      'keys', 'generate', '--token', 'soft', '--label', 'nope', '--role', 'delegation',
    ]); // prettier-ignore
    expect(refused.errorCode).toBe('FORBIDDEN');
    const made = await as(setup.adminToken, [
      'keys', 'generate', '--token', 'soft', '--label', 'release-2', '--role', 'delegation',
      '--id', '7a', '--json',
    ]); // prettier-ignore
    expect(made.code).toBe(0);
    const { key } = JSON.parse(made.out) as { key: { name: string; keyId: string } };
    expect(key.name).toBe('release-2');
    expect(key.keyId).toMatch(/^[0-9a-f]{64}$/);
    const again = await as(setup.adminToken, [
      'keys', 'generate', '--token', 'soft', '--label', 'release-3', '--role', 'delegation',
      '--id', '7a',
    ]); // prettier-ignore
    expect(again.errorCode).toBe('KEY_EXISTS');
    const bad = await as(setup.adminToken, [
      'keys', 'generate', '--token', 'soft', '--label', 'x', '--role', 'snapshot',
    ]); // prettier-ignore
    expect(bad.code).toBe(2);
  });
});
