/**
 * notary-hsmd whose state directory's filesystem fills up, on a real daemon with a
 * SoftHSM2 token and its state directory on a small tmpfs mounted by the test: while the
 * audit log cannot be written, a signature request is answered 503 AUDIT_UNAVAILABLE with
 * no signature and /readyz is 503 naming the audit log; once space returns the daemon
 * resumes by itself (no restart), the version the refused request claimed stays claimed,
 * and `notary-hsm audit verify` passes over the whole log, which holds no signature for
 * any refused request.
 *
 * Mounting needs root (CAP_SYS_ADMIN); without it the test is skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  auditRecords,
  call,
  errorOf,
  isReady,
  signaturesOf,
  targetsDoc,
} from '../../helpers/daemon-api';
import { eventually } from '../../helpers/eventually';
import { makeDaemonSetup, startDaemonProcess, type DaemonSetup } from '../../helpers/daemon';
import { runCli } from '../../helpers/run-cli';
import { makeTempDir } from '../../helpers/tmp';

const GUN = 'localhost:5000/e2e/audit-disk';

/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN). */
async function canMount(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  const probe = await makeTempDir('mount-probe-');
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
  if (ok) spawnSync('umount', [probe]);
  return ok;
}

/** Writes zeros into `file` until the filesystem has no room left. */
async function fill(file: string): Promise<void> {
  const f = await open(file, 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) await f.write(chunk);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOSPC') throw err;
  } finally {
    await f.close();
  }
}

describe('notary-hsmd on a full audit disk', () => {
  let setup: DaemonSetup;
  let mounted = false;
  let mayMount = false;

  beforeAll(async () => {
    mayMount = await canMount();
    setup = await makeDaemonSetup();
    if (!mayMount) return;
    await mkdir(setup.stateDir, { recursive: true });
    const res = spawnSync('mount', [
      '-t',
      'tmpfs',
      '-o',
      'size=1m,mode=0700',
      'tmpfs',
      setup.stateDir,
    ]);
    mounted = res.status === 0;
  });
  afterAll(() => {
    if (mounted) spawnSync('umount', ['-l', setup.stateDir]);
  });

  it('signs nothing while the disk is full, and resumes by itself once space returns', async () => {
    let signedVersions: number[] = [];
    if (!mayMount) {
      console.warn('skipped: mounting a tmpfs needs root with CAP_SYS_ADMIN');
      return;
    }
    expect(mounted).toBe(true);
    const daemon = await startDaemonProcess(setup.config);
    try {
      const sign = (version: number) =>
        call(daemon.url, {
          path: '/v1/sign/delegation',
          token: setup.ciToken,
          json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(version, [`v${version}`]) },
        });
      expect(signaturesOf(await sign(1))).toHaveLength(1);

      const filler = join(setup.stateDir, 'filler');
      await fill(filler);
      // The log's last page may still have room for a few records: sign until one is refused.
      signedVersions = [1];
      let version = 2;
      let first = await sign(version);
      while (first.status === 200 && version < 200) {
        signedVersions.push(version);
        first = await sign(++version);
      }
      const refusedVersion = version;
      for (const res of [first, await sign(refusedVersion + 1)]) {
        expect(res.status).toBe(503);
        expect(errorOf(res).code).toBe('AUDIT_UNAVAILABLE');
        expect(res.text).not.toContain('signatures');
      }
      const down = await call(daemon.url, { path: '/readyz' });
      expect(down.status).toBe(503);
      expect((down.body as { problems: string[] }).problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^audit: cannot write the audit log .*ENOSPC/),
        ]),
      );

      await rm(filler);
      // The daemon tries again on its own; wait (bounded) until it says it is ready.
      await eventually('/readyz is 200 again', () => isReady(daemon.url));

      // The version whose record failed stays claimed: it is never signed. (The request after
      // it was refused before it claimed anything.)
      const again = await sign(refusedVersion);
      expect(`${again.status} ${errorOf(again).code}`).toBe('409 VERSION_ROLLBACK');
      expect(signaturesOf(await sign(refusedVersion + 1))).toHaveLength(1);
      signedVersions.push(refusedVersion + 1);
    } finally {
      await daemon.stop();
    }

    const verified = await runCli(['audit', 'verify', '--state-dir', setup.stateDir, '--json']);
    expect(verified.code).toBe(0);
    const signed = (await auditRecords(setup.stateDir)).filter(
      (r) => r.outcome === 'signed' && r.role === 'targets/ci',
    );
    expect(signed.map((r) => r.version)).toEqual(signedVersions);
  });
});
