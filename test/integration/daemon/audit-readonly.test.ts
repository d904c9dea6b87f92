/**
 * notary-hsmd whose state directory's filesystem turns read-only while it runs, on a real
 * daemon with a SoftHSM2 token and its state directory on a loop-mounted ext4
 * (errors=remount-ro) made by the test. The filesystem is turned read-only through ext4's
 * own error path (sysfs trigger_fs_error): `mount -o remount,ro` is refused with EBUSY
 * while the daemon holds the audit log open for writing, on a tmpfs and on a read-only
 * bind mount alike, so a filesystem that goes read-only under a running daemon is in
 * practice one that hit an error. While the log cannot be written a signature request is
 * answered 503 AUDIT_UNAVAILABLE with no signature and /readyz is 503; the log that
 * reached the disk still verifies.
 *
 * An ext4 turned read-only on error (emergency_ro) cannot be remounted read-write without
 * unmounting it, and no mount can be turned read-only while the daemon writes to it, so
 * the way back is staged one level below Node: the second case runs the daemon with an
 * LD_PRELOAD library (test/fault-shim/readonly_preload.c) that answers EROFS for the
 * audit log's writes and truncations while a control file exists, as the kernel does on a
 * read-only filesystem. Nothing is signed meanwhile, signing resumes by itself once the
 * filesystem is writable again, and the log verifies.
 *
 * Mounting needs root (CAP_SYS_ADMIN) and ext4 with its sysfs trigger; without them the
 * first test is skipped, saying so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
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
import { writeConfigVariant } from '../../helpers/daemon-config';
import { buildReadonlyPreload, readonlyPreloadEnv } from '../../helpers/fault-shim';
import { runCli } from '../../helpers/run-cli';
import { makeTempDir } from '../../helpers/tmp';

const GUN = 'localhost:5000/e2e/audit-readonly';

describe('notary-hsmd whose audit filesystem turns read-only', () => {
  let setup: DaemonSetup;
  let image = '';
  let trigger = '';
  let skip = '';

  beforeAll(async () => {
    setup = await makeDaemonSetup();
    if (process.getuid?.() !== 0) {
      skip = 'mounting needs root with CAP_SYS_ADMIN';
      return;
    }
    image = join(await makeTempDir('ro-image-'), 'fs.img');
    await writeFile(image, Buffer.alloc(0));
    spawnSync('truncate', ['-s', '8M', image]);
    if (spawnSync('mkfs.ext4', ['-q', image]).status !== 0) {
      skip = 'mkfs.ext4 is not available';
      return;
    }
    await mkdir(setup.stateDir, { recursive: true });
    const m = spawnSync('mount', ['-o', 'loop,errors=remount-ro', image, setup.stateDir]);
    if (m.status !== 0) {
      skip = `cannot loop-mount ext4: ${m.stderr.toString().trim()}`;
      return;
    }
    spawnSync('chmod', ['0700', setup.stateDir]);
    const source = spawnSync('findmnt', ['-no', 'SOURCE', setup.stateDir]).stdout.toString().trim();
    trigger = `/sys/fs/ext4/${basename(realpathSync(source))}/trigger_fs_error`;
    if (!existsSync(trigger)) skip = 'this kernel has no ext4 trigger_fs_error';
  });
  afterAll(() => {
    if (image) spawnSync('umount', ['-l', setup.stateDir]);
  });

  it('signs nothing once the filesystem is read-only, and the log written before verifies', async () => {
    if (skip) {
      console.warn(`skipped: ${skip}`);
      return;
    }
    const daemon = await startDaemonProcess(setup.config);
    try {
      const sign = (version: number) =>
        call(daemon.url, {
          path: '/v1/sign/delegation',
          token: setup.ciToken,
          json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(version, [`v${version}`]) },
        });
      expect(signaturesOf(await sign(1))).toHaveLength(1);

      await writeFile(trigger, '1');
      for (const res of [await sign(2), await sign(3)]) {
        expect(res.status).toBe(503);
        expect(errorOf(res).code).toBe('AUDIT_UNAVAILABLE');
        expect(res.text).not.toContain('signatures');
      }
      const down = await call(daemon.url, { path: '/readyz' });
      expect(down.status).toBe(503);
      expect((down.body as { problems: string[] }).problems).toEqual(
        expect.arrayContaining([expect.stringMatching(/^audit: /)]),
      );
    } finally {
      await daemon.stop();
    }

    const verified = await runCli(['audit', 'verify', '--state-dir', setup.stateDir, '--json']);
    expect(verified.code).toBe(0);
    const signed = (await auditRecords(setup.stateDir)).filter(
      (r) => r.outcome === 'signed' && r.role === 'targets/ci',
    );
    expect(signed.map((r) => r.version)).toEqual([1]);
  });

  it('read-only and writable again: nothing signed meanwhile, signing resumes without a restart, the log verifies', async () => {
    const [library, dir] = await Promise.all([buildReadonlyPreload(), makeTempDir('readonly-')]);
    const control = join(dir, 'read-only');
    const config = writeConfigVariant(setup, 'readonly-preload.yaml', (doc) => {
      doc.state_dir = 'state-preload';
    });
    const state = join(setup.dir, 'state-preload');
    const daemon = await startDaemonProcess(
      config,
      readonlyPreloadEnv(library, control, '/audit.log'),
    );
    const sign = (version: number) =>
      call(daemon.url, {
        path: '/v1/sign/delegation',
        token: setup.ciToken,
        json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(version, [`v${version}`]) },
      });
    try {
      expect(signaturesOf(await sign(1))).toHaveLength(1);

      await writeFile(control, '');
      const refused = await sign(2);
      expect(refused.status).toBe(503);
      expect(errorOf(refused).code).toBe('AUDIT_UNAVAILABLE');
      expect(refused.text).not.toContain('signatures');
      const down = await call(daemon.url, { path: '/readyz' });
      expect(down.status).toBe(503);
      expect((down.body as { problems: string[] }).problems).toContainEqual(
        expect.stringMatching(/^audit: cannot write the audit log .*EROFS/),
      );

      await unlink(control);
      await eventually('/readyz is 200 again', () => isReady(daemon.url));
      // version 2 was claimed by the refused reservation: the next is 3
      expect(signaturesOf(await sign(3))).toHaveLength(1);
    } finally {
      await daemon.stop();
    }

    const verified = await runCli(['audit', 'verify', '--state-dir', state]);
    expect(verified.code).toBe(0);
    const signed = (await auditRecords(state)).filter(
      (r) => r.outcome === 'signed' && r.role === 'targets/ci',
    );
    expect(signed.map((r) => r.version)).toEqual([1, 3]);
  });
});
