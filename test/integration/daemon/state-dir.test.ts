/**
 * notary-hsmd whose state directory changes or fails under it, on a real daemon with a
 * SoftHSM2 token. With the directory removed (`rm -rf`), only its lock file removed (and
 * a second daemon started on it), or the audit log unwritable (the file size limit of the
 * daemon's process lowered to the log's size, so the next write fails with EFBIG), a
 * signature request is answered 503 AUDIT_UNAVAILABLE with no signature, every later one
 * too, and /readyz answers 503 naming the audit log; a removed directory is noticed by
 * /readyz even when no one signs. Each case starts the daemon on a fresh state directory.
 */
import { spawnSync } from 'node:child_process';
import { rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AUDIT_LOG_FILE, LOCK_FILE } from '../../../src/store';
import { call, errorOf, signaturesOf, targetsDoc } from '../../helpers/daemon-api';
import {
  makeDaemonSetup,
  resetCheckpoint,
  startDaemonProcess,
  type DaemonProcess,
  type DaemonSetup,
} from '../../helpers/daemon';

const GUN = 'localhost:5000/e2e/state-dir';
const HAS_PRLIMIT = spawnSync('prlimit', ['--version']).status === 0;

describe('notary-hsmd whose state directory goes away or fails', () => {
  let setup: DaemonSetup;
  let daemon: DaemonProcess | undefined;
  let second: DaemonProcess | undefined;

  beforeAll(async () => {
    setup = await makeDaemonSetup();
  });
  beforeEach(async () => {
    await rm(setup.stateDir, { recursive: true, force: true });
    await resetCheckpoint(setup.config); // the last case's records are gone on purpose
    daemon = await startDaemonProcess(setup.config);
  });
  afterEach(async () => {
    await second?.stop();
    second = undefined;
    await daemon?.stop();
    daemon = undefined;
  });

  function sign(d: DaemonProcess, version: number) {
    return call(d.url, {
      path: '/v1/sign/delegation',
      token: setup.ciToken,
      json: { gun: GUN, role: 'targets/ci', signed: targetsDoc(version, [`v${version}`]) },
    });
  }

  /** A signature request is refused with AUDIT_UNAVAILABLE and carries no signature. */
  async function refused(d: DaemonProcess, version: number): Promise<void> {
    const res = await sign(d, version);
    expect(res.status).toBe(503);
    expect(errorOf(res).code).toBe('AUDIT_UNAVAILABLE');
    expect(res.text).not.toContain('signatures');
  }

  /** /readyz answers 503 with an `audit:` problem matching `found`. */
  async function notReady(d: DaemonProcess, found: RegExp): Promise<void> {
    const res = await call(d.url, { path: '/readyz' });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'not_ready' });
    const problems = (res.body as { problems: string[] }).problems;
    expect(problems.filter((p) => p.startsWith('audit: '))).toEqual([expect.stringMatching(found)]);
  }

  async function ready(d: DaemonProcess): Promise<void> {
    const res = await call(d.url, { path: '/readyz' });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 200,
      body: { status: 'ready' },
    });
  }

  it('signs nothing once the state directory is removed, and /readyz says so', async () => {
    const d = daemon as DaemonProcess;
    expect(signaturesOf(await sign(d, 1))).toHaveLength(1);
    await ready(d);
    await rm(setup.stateDir, { recursive: true, force: true });
    await refused(d, 2);
    await refused(d, 3);
    await notReady(d, /state directory \S+ was removed.*audit log/);
    expect(d.output()).toMatch(/AUDIT_UNAVAILABLE/);
  });

  it('notices a removed state directory at /readyz when no one signs', async () => {
    const d = daemon as DaemonProcess;
    await ready(d);
    await rm(setup.stateDir, { recursive: true, force: true });
    await notReady(d, /state directory \S+ was removed.*audit log/);
    await refused(d, 1);
  });

  it('signs nothing once its lock file is removed, while a second daemon takes the directory', async () => {
    const d = daemon as DaemonProcess;
    expect(signaturesOf(await sign(d, 1))).toHaveLength(1);
    await unlink(join(setup.stateDir, LOCK_FILE));
    second = await startDaemonProcess(setup.config); // nothing keeps it out any more
    await refused(d, 2);
    await notReady(d, /the lock file \S+ was (removed|replaced).*audit log/);
    // the second daemon holds the directory now, and keeps the versions the first signed
    await ready(second);
    const again = await sign(second, 1);
    expect(errorOf(again).code).toBe('VERSION_ROLLBACK');
    expect(signaturesOf(await sign(second, 2))).toHaveLength(1);
    await refused(d, 3);
    // stopping the first leaves the second's lock in place
    await d.stop();
    daemon = undefined;
    await expect(stat(join(setup.stateDir, LOCK_FILE))).resolves.toBeDefined();
    await ready(second);
  });

  it('signs nothing once its lock file alone is removed, and /readyz says so', async () => {
    const d = daemon as DaemonProcess;
    await unlink(join(setup.stateDir, LOCK_FILE));
    await notReady(d, /the lock file \S+ was removed or renamed while the daemon ran/);
    await refused(d, 1);
  });

  (HAS_PRLIMIT ? it : it.skip)(
    'signs nothing once the audit log cannot be written, and /readyz says so' +
      (HAS_PRLIMIT ? '' : ' (skipped: no prlimit(1) to lower the file size limit)'),
    async () => {
      const d = daemon as DaemonProcess;
      expect(signaturesOf(await sign(d, 1))).toHaveLength(1);
      const { size } = await stat(join(setup.stateDir, AUDIT_LOG_FILE));
      const limited = spawnSync('prlimit', [`--pid=${d.child.pid}`, `--fsize=${size}`]);
      expect({ status: limited.status, stderr: String(limited.stderr) }).toEqual({
        status: 0,
        stderr: '',
      });
      await refused(d, 2);
      await notReady(d, /cannot write the audit log \S+ \(EFBIG/);
      await refused(d, 3);
      expect((await stat(join(setup.stateDir, AUDIT_LOG_FILE))).size).toBe(size);
    },
  );
});
