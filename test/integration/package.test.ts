/**
 * The package as users get it: `npm pack` of the checkout, then one global install of the
 * tarball into a temporary prefix — dependencies from a registry on 127.0.0.1 that serves
 * the locked versions out of the npm cache (startLockRegistry), pkcs11js built from source
 * by its install step — and both commands run from $prefix/bin with a clean PATH, from a
 * directory outside the checkout: version, help, and a daemon that starts on the embedded
 * default (a SoftHSM2 token found through the installed hsm-profiles/softhsm2.yaml).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startLockRegistry, type LockRegistry } from '../helpers/lock-registry';
import { makeTempDir } from '../helpers/tmp';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..');
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** The environment without npm's per-run variables (jest may run under `npm test`). */
function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD'),
  );
  return { ...env, ...extra };
}

describe('the npm package', () => {
  let tmp: string;
  let prefix: string;
  let files: string[];
  let registry: LockRegistry | undefined;
  let cleanEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    tmp = await makeTempDir('package');
    prefix = join(tmp, 'prefix');
    // dist/ is current (the global setup builds it); --ignore-scripts keeps prepack from
    // rebuilding it under the other test files that run from it now.
    const packed = await run(
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp],
      { cwd: ROOT, env: baseEnv(), maxBuffer: 16 << 20 },
    );
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    files = (info?.files ?? []).map((f) => f.path);
    registry = await startLockRegistry(join(ROOT, 'package-lock.json'));
    await run(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--registry',
        registry.url,
        '--cache',
        join(tmp, 'npm-cache'),
        '--allow-scripts=pkcs11js',
        '--no-audit',
        '--no-fund',
        join(tmp, info?.filename ?? 'missing.tgz'),
      ],
      { cwd: tmp, env: baseEnv(), maxBuffer: 16 << 20 },
    );
    cleanEnv = {
      PATH: [join(prefix, 'bin'), dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
      HOME: tmp,
      LANG: 'C.UTF-8',
    };
  }, 600_000);

  afterAll(async () => {
    await registry?.close();
  });

  it('packs the commands, the built code without maps, profiles, units and the licence', () => {
    for (const f of [
      'bin/notary-hsm',
      'bin/notary-hsmd',
      'dist/cli/notary-hsm.js',
      'dist/src/cli/main.js',
      'dist/daemon/main.js',
      'hsm-profiles/softhsm2.yaml',
      'hsm-profiles/yubikey-piv.yaml',
      'systemd/notary-hsmd.service',
      'LICENSE',
      'README.md',
      'package.json',
    ]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => /^(test|bench|src|daemon|softhsm|scripts)\//.test(f))).toEqual([]);
  });

  it('installs both commands and only the runtime dependencies', () => {
    expect(existsSync(join(prefix, 'bin', 'notary-hsm'))).toBe(true);
    expect(existsSync(join(prefix, 'bin', 'notary-hsmd'))).toBe(true);
    const modules = join(prefix, 'lib', 'node_modules', 'notary-hsm', 'node_modules');
    expect(existsSync(join(modules, 'pkcs11js', 'build', 'Release', 'pkcs11.node'))).toBe(true);
    for (const dev of ['jest', 'typescript', 'eslint', 'ts-jest']) {
      expect(existsSync(join(modules, dev))).toBe(false);
    }
  });

  it('bundles the CLI with only runtime dependencies left outside, each installed', () => {
    const pkgDir = join(prefix, 'lib', 'node_modules', 'notary-hsm');
    const bundle = readFileSync(join(pkgDir, 'dist', 'cli', 'notary-hsm.js'), 'utf8');
    const required = [
      ...new Set([...bundle.matchAll(/\brequire\("([^".][^"]*)"\)/g)].map((m) => m[1] ?? '')),
    ].filter((id) => !isBuiltin(id));
    const { dependencies } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    // commander is inside the bundle; @peculiar/x509 is loaded only to make a certificate.
    expect(required).not.toContain('commander');
    expect(required).toContain('@peculiar/x509');
    for (const id of required) {
      expect(Object.keys(dependencies)).toContain(id);
      expect(() => require.resolve(id, { paths: [pkgDir] })).not.toThrow();
    }
  });

  it('runs notary-hsm --version and --help from the prefix', async () => {
    const opts = { cwd: tmp, env: cleanEnv };
    expect((await run('notary-hsm', ['--version'], opts)).stdout.trim()).toBe(VERSION);
    const help = (await run('notary-hsm', ['--help'], opts)).stdout;
    for (const c of ['init', 'sign', 'delegation', 'verify', 'completion']) {
      expect(help).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    }
    const dhelp = (await run('notary-hsmd', ['--help'], opts)).stdout;
    for (const c of ['serve', 'tokens', 'keys', 'completion']) {
      expect(dhelp).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    }
  });

  it('starts notary-hsmd on the embedded default, its token made through the installed profile', async () => {
    const socket = join(tmp, 'd.sock');
    const child = spawn('notary-hsmd', ['--listen', `unix:${socket}`], {
      cwd: tmp,
      env: { ...cleanEnv, NOTARY_HSM_VAR: join(tmp, 'var') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
    await new Promise<void>((done, fail) => {
      child.stdout.on('data', () => out.includes('listening on') && done());
      void exited.then((c) => fail(new Error(`notary-hsmd exited (${c}): ${out}\n${err}`)));
    });
    expect(out).toContain('created the embedded default');
    expect(out).toContain(`notary-hsmd listening on unix:${socket}`);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const tokens = await run(
      'notary-hsmd',
      ['tokens', '--config', join(tmp, 'var', 'daemon.yaml'), '--json'],
      { cwd: tmp, env: cleanEnv },
    );
    const { tokens: listed } = JSON.parse(tokens.stdout) as { tokens: object[] };
    expect(listed[0]).toMatchObject({ profile: 'softhsm2', present: true });
  });
});
