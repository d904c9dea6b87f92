/**
 * `make install` into a temporary root: the layout the units expect, units that
 * systemd-analyze verify accepts there, and an exposure rating of the service by
 * `systemd-analyze security --offline=true` of at most 1.5. The root gets the host's
 * targets and slices and kill(1), which a real system has and the install does not bring.
 */
import { execFile, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from '../../helpers/tmp';

const run = promisify(execFile);
const REPO = join(__dirname, '..', '..', '..');
const HOST_UNITS = '/lib/systemd/system';
const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const describeIf = haveAnalyze ? describe : describe.skip;
if (!haveAnalyze) {
  console.warn('skipped: systemd-analyze is missing (package systemd, scripts/install-deps.sh)');
}

describeIf('make install', () => {
  let root: string;
  const units = (): string => join(root, 'usr', 'lib', 'systemd', 'system');

  beforeAll(async () => {
    root = await makeTempDir('install-');
    // dist/ is current (global setup builds it); `-o build` keeps make from rewriting it
    // while other test files run the daemon from it.
    const args = ['--no-print-directory', '-o', 'build', 'install', `DESTDIR=${root}`];
    await run('make', [...args, 'PREFIX=/usr'], {
      cwd: REPO,
      maxBuffer: 16 << 20,
    });
  }, 180_000);

  it('lays out the program, the commands, the units and the example configuration', async () => {
    const lib = join(root, 'usr', 'lib', 'notary-hsm');
    for (const p of ['bin/notary-hsmd', 'dist/daemon/main.js', 'hsm-profiles/softhsm2.yaml']) {
      expect(existsSync(join(lib, p))).toBe(true);
    }
    // Production dependencies only, the native addons built.
    expect(existsSync(join(lib, 'node_modules', 'pkcs11js'))).toBe(true);
    expect(existsSync(join(lib, 'node_modules', 'unix-dgram', 'build', 'Release'))).toBe(true);
    expect(existsSync(join(lib, 'node_modules', 'jest'))).toBe(false);
    expect(realpathSync(join(root, 'usr', 'bin', 'notary-hsmd'))).toBe(
      realpathSync(join(lib, 'bin', 'notary-hsmd')),
    );
    for (const f of [
      'usr/lib/sysusers.d/notary-hsm.conf',
      'usr/lib/tmpfiles.d/notary-hsm.conf',
      'etc/notary-hsm/daemon.yaml.example',
    ]) {
      expect(existsSync(join(root, f))).toBe(true);
    }
    const service = readFileSync(join(units(), 'notary-hsmd.service'), 'utf8');
    const exec = /^ExecStart=(\S+)/m.exec(service)?.[1] as string;
    expect(existsSync(join(root, exec))).toBe(true);
    // The installed command runs from the installed tree.
    const { stdout } = await run(join(root, 'usr', 'bin', 'notary-hsmd'), ['token', '--json']);
    expect(JSON.parse(stdout)).toHaveProperty('token_sha256');
  });

  it('passes systemd-analyze verify in the installed root', () => {
    for (const f of readdirSync(HOST_UNITS)) {
      if (/\.(target|slice)$/.test(f) || f.startsWith('pcscd.')) {
        const to = join(units(), f);
        if (!existsSync(to)) copyFileSync(join(HOST_UNITS, f), to);
      }
    }
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync('/bin/kill', join(root, 'bin', 'kill'));
    const res = spawnSync(
      'systemd-analyze',
      [
        'verify',
        `--root=${root}`,
        '/usr/lib/systemd/system/notary-hsmd.service',
        '/usr/lib/systemd/system/notary-hsmd.socket',
      ],
      { encoding: 'utf8' },
    );
    expect(res.stderr + res.stdout).toBe('');
    expect(res.status).toBe(0);
  });

  it('is rated at most 1.5 by systemd-analyze security --offline=true', () => {
    const res = spawnSync(
      'systemd-analyze',
      ['security', '--offline=true', `--root=${root}`, '--no-pager', 'notary-hsmd.service'],
      { encoding: 'utf8' },
    );
    const m = /Overall exposure level for notary-hsmd\.service: ([0-9.]+)/.exec(res.stdout);
    expect(m).not.toBeNull();
    const exposure = Number(m?.[1]);
    console.log(`systemd-analyze security: notary-hsmd.service exposure ${exposure}`);
    expect(exposure).toBeLessThanOrEqual(1.5);
  });
});
