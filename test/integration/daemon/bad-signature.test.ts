/**
 * A signing token that answers with wrong signatures (the fault shim's
 * `corrupt_signature`, below pkcs11js), on the real daemon process: every signature is
 * verified before it is answered, so each request — several at once, verified together —
 * is answered 500 SIGNER_INVALID_SIGNATURE without a signature, each with its own `failed`
 * audit record; once the token is right again, signing resumes without a restart.
 */
import { join } from 'node:path';
import { auditRecords, call, errorOf, signaturesOf, targetsDoc } from '../../helpers/daemon-api';
import { writeConfigVariant } from '../../helpers/daemon-config';
import {
  makeDaemonSetup,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';
import { buildFaultShim, FaultControl } from '../../helpers/fault-shim';
import { makeTempDir } from '../../helpers/tmp';

const GUN = 'localhost:5000/e2e/bad-signature';

describe('a signing token that answers with wrong signatures', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess | undefined;

  beforeAll(async () => {
    setup = await makeDaemonSetup();
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('each request is answered SIGNER_INVALID_SIGNATURE and audited as failed; signing resumes once the token is right', async () => {
    const [shim, dir] = await Promise.all([buildFaultShim(), makeTempDir('bad-signature-shim-')]);
    const control = new FaultControl(dir);
    const config = writeConfigVariant(setup, 'bad-signature.yaml', (doc) => {
      doc.state_dir = 'state-bad-signature';
      const tokens = doc.tokens as Record<string, unknown>[];
      const soft = tokens.find((t) => t.name === 'soft') as Record<string, unknown>;
      soft.profile = 'generic';
      soft.module = shim;
      soft.environment = { ...(soft.environment as object), ...control.env };
    });
    const state = join(setup.dir, 'state-bad-signature');
    daemon = await startDaemonProcess(config);
    const d = daemon;
    const sign = (version: number) =>
      call(d.url, {
        path: '/v1/sign/delegation',
        token: setup.ciToken,
        json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(version, [`v${version}`]) },
      });

    expect(signaturesOf(await sign(1))).toHaveLength(1);

    control.set({ corrupt_signature: 1 });
    // One at a time, then several in flight together (their signatures verified as one batch).
    const answers = [await sign(2), ...(await Promise.all([3, 4, 5, 6, 7].map((v) => sign(v))))];
    for (const res of answers) {
      expect(res.status).toBe(500);
      expect(errorOf(res).code).toBe('SIGNER_INVALID_SIGNATURE');
      expect(res.text).not.toContain('"signatures"');
    }
    expect(control.stats().sign_ok).toBeGreaterThanOrEqual(7);

    control.set({ corrupt_signature: 0 });
    expect(signaturesOf(await sign(8))).toHaveLength(1);

    const records = (await auditRecords(state)).filter((r) => r.gun === GUN);
    const failed = records.filter((r) => r.outcome === 'failed');
    expect(failed.map((r) => r.version).sort()).toEqual([2, 3, 4, 5, 6, 7]);
    for (const r of failed) expect(r.code).toBe('SIGNER_INVALID_SIGNATURE');
    // Each failed signature was reserved (a durable `signed` record) before the token signed.
    const reserved = records.filter((r) => r.outcome === 'signed').map((r) => r.version);
    expect(reserved.sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
