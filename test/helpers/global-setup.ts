/**
 * Jest global setup: the PKCS#11 module host runs as a separate process from compiled
 * JavaScript, so tests need dist/ to be current. `make test` builds first; a bare `npx
 * jest` after an edit rebuilds here (incremental tsc, a few seconds, then the CLI's bundle,
 * which bin/notary-hsm runs) when any source file is newer than the build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Every process of the run (test workers, daemons, module hosts) appends its log records
 * to one file, which global teardown searches for the suite's PINs.
 */
function suiteLog(): void {
  const dir = mkdtempSync(join(tmpdir(), 'notary-hsm-suite-'));
  process.env.NOTARY_HSM_SUITE_LOG_DIR = dir;
  process.env.NOTARY_HSM_LOG_FILE = join(dir, 'suite.log');
  process.env.NOTARY_HSM_LOG_FILE_LEVEL = 'debug';
}

export default function globalSetup(): void {
  suiteLog();
  const built = join(ROOT, 'dist', 'src', 'pkcs11', 'host', 'entry.js');
  const bundle = join(ROOT, 'dist', 'cli', 'notary-hsm.js');
  const sources = Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'daemon')));
  const current = (f: string): boolean => existsSync(f) && statSync(f).mtimeMs >= sources;
  if (current(built) && current(bundle)) return;
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT, stdio: 'inherit' },
    );
  } catch (err) {
    // tsc still emits on type errors; the type check proper is `make typecheck`.
    if (!existsSync(built)) throw err;
    console.warn('global-setup: tsc reported errors; testing with what it emitted');
  }
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle-cli.js')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}
