/**
 * Readiness while a token waits for a touch: TokenRegistry.readiness() (what `/readyz`
 * asks) counts a token with an operation running as present instead of queueing a status
 * request behind it, which would hold the probe for as long as the touch takes. The token
 * is SoftHSM2 behind the fault shim, configured like any other token (profile `generic`,
 * `module:` the shim), and the touch is the shim's `sign_delay_ms=-1`.
 */
import { join } from 'node:path';
import { resolveConfig } from '../../../src/config/load';
import { TokenRegistry } from '../../../src/pkcs11/registry';
import { buildFaultShim, FaultControl } from '../../helpers/fault-shim';
import { makeTempDir } from '../../helpers/tmp';
import { KEY, PIN, makeTokens, message, verifies, waitFor } from './fault-fixture';

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('readiness while a token waits for a touch', () => {
  let registry: TokenRegistry | undefined;
  afterAll(async () => {
    await registry?.close(1000);
  });

  it('answers at once, with the token present; tokens() would have waited for the touch', async () => {
    const token = await makeTokens(['touchy']);
    const [shim, dir] = await Promise.all([buildFaultShim(), makeTempDir('readiness-')]);
    const control = new FaultControl(dir);
    const config = resolveConfig(
      {
        tokens: [
          {
            name: 'touchy',
            profile: 'generic',
            label: 'touchy',
            pin: 'env:READINESS_TEST_PIN',
            module: shim,
            environment: { SOFTHSM2_CONF: token.conf, ...control.env },
          },
        ],
        keys: [{ name: 'k', token: 'touchy', label: KEY.label as string }],
      },
      join(dir, 'daemon.yaml'),
    );
    registry = new TokenRegistry(config, { env: { ...process.env, READINESS_TEST_PIN: PIN } });
    const signer = await registry.signer('k');
    expect(await registry.readiness()).toEqual([
      expect.objectContaining({ name: 'touchy', present: true }),
    ]);
    const owner = registry.owner('touchy');
    const asked = owner.lastStatus; // set by every status request to the token
    expect(asked).toMatchObject({ present: true });

    control.set({ sign_delay_ms: -1 });
    const held = message('held');
    const pending = signer.sign(held.data);
    await waitFor('the signature to wait for its touch', () => control.stats().sign_waiting === 1);

    const ready = registry.readiness();
    expect(await settlesWithin(ready, 1000)).toBe(true);
    expect(await ready).toEqual([expect.objectContaining({ name: 'touchy', present: true })]);
    expect(owner.lastStatus).toBe(asked); // the token was not asked
    // what readiness used to do: a status request, queued behind the held signature
    const status = registry.tokens();
    expect(await settlesWithin(status, 300)).toBe(false);

    control.set({ sign_delay_ms: 0 });
    expect(verifies(signer.publicKeySpki, held.data, await pending)).toBe(true);
    expect(await status).toEqual([expect.objectContaining({ name: 'touchy', present: true })]);
    // idle again: readiness asks the token
    const afterRelease = owner.lastStatus;
    expect(afterRelease).not.toBe(asked);
    expect(await registry.readiness()).toEqual([
      expect.objectContaining({ name: 'touchy', present: true, label: 'touchy' }),
    ]);
    expect(owner.lastStatus).not.toBe(afterRelease);
  });
});
