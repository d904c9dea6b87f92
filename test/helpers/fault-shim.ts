/**
 * The fault-injecting PKCS#11 module (test/fault-shim/fault_pkcs11.c) for tests: build it once
 * per machine, and steer it through its control file. Load the returned .so through pkcs11js
 * instead of libsofthsm2.so, in a process whose environment has `control.env` plus
 * SOFTHSM2_CONF; test/fault-shim/README.md describes the control and stats keys.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type * as TypeScript from 'typescript';
import { SOFTHSM_MODULE } from './softhsm';

const SHIM_DIR = resolve(__dirname, '..', 'fault-shim');
const NODE_MODULES = resolve(__dirname, '..', '..', 'node_modules');
const SOURCES = ['fault_pkcs11.c', 'build.sh', 'driver.ts', 'readonly_preload.c'];
const LIBRARY = 'libfaultpkcs11.so';
const DRIVER = 'driver.js';
const READONLY = 'libreadonly.so';

function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : 0;
}

/**
 * `<tmp>/notary-hsm-fault-shim-<uid>-<hash of the sources>`, created private. It must be
 * ours alone: a library that someone else could plant there would be loaded.
 */
async function cacheDir(): Promise<string> {
  const hash = createHash('sha256');
  for (const name of SOURCES) hash.update(name).update(await readFile(join(SHIM_DIR, name)));
  const dir = join(tmpdir(), `notary-hsm-fault-shim-${uid()}-${hash.digest('hex').slice(0, 16)}`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== uid() || (st.mode & 0o022) !== 0) {
    throw new Error(`fault shim cache ${dir} is not a private directory of this user`);
  }
  return dir;
}

async function isOurs(file: string): Promise<boolean> {
  try {
    const st = await lstat(file);
    return st.isFile() && st.uid === uid() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/**
 * Makes `name` in the cache dir unless it is there: `make` writes a temp file that is then
 * renamed into place. Jest workers may do this at the same time; rename is atomic, and
 * whichever copy wins is the same build.
 */
async function cached(name: string, make: (tmp: string) => Promise<void>): Promise<string> {
  const dir = await cacheDir();
  const out = join(dir, name);
  if (await isOurs(out)) return out;
  const tmp = join(dir, `${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await make(tmp);
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return out;
}

async function compileLibrary(tmp: string): Promise<void> {
  try {
    await promisify(execFile)('bash', [join(SHIM_DIR, 'build.sh'), tmp]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`building the fault shim failed: ${stderr.trim() || String(err)}`);
  }
}

async function compileDriver(tmp: string): Promise<void> {
  // node's own require: typescript is already loaded in a ts-jest worker
  const ts = createRequire(__filename)('typescript') as typeof TypeScript;
  const fileName = join(SHIM_DIR, 'driver.ts');
  const { outputText } = ts.transpileModule(await readFile(fileName, 'utf8'), {
    fileName,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  });
  await writeFile(tmp, outputText, { mode: 0o600 });
}

async function compileReadonly(tmp: string): Promise<void> {
  const cc = process.env.CC ?? 'cc';
  const args = ['-std=gnu11', '-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror'];
  try {
    await promisify(execFile)(cc, [
      ...args,
      '-o',
      tmp,
      join(SHIM_DIR, 'readonly_preload.c'),
      '-ldl',
    ]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`building the read-only preload failed: ${stderr.trim() || String(err)}`);
  }
}

const building = new Map<string, Promise<string>>();

function once(name: string, make: (tmp: string) => Promise<void>): Promise<string> {
  let p = building.get(name);
  if (!p) {
    p = cached(name, make);
    building.set(name, p);
    p.catch(() => building.delete(name));
  }
  return p;
}

/**
 * Compiles the fault shim (once per machine and source version, cached under os.tmpdir())
 * and returns the path of the shared library.
 */
export function buildFaultShim(): Promise<string> {
  return once(LIBRARY, compileLibrary);
}

/**
 * The pkcs11js driver process of the shim's own tests (test/fault-shim/driver.ts), compiled
 * to JavaScript and cached like the library. Run it as `node <path> <module.so>` with
 * `faultShimDriverEnv` in its environment.
 */
export function buildFaultShimDriver(): Promise<string> {
  return once(DRIVER, compileDriver);
}

/**
 * The LD_PRELOAD library that makes one file's filesystem look read-only while a control
 * file exists (test/fault-shim/readonly_preload.c), built and cached like the shim. Its
 * environment for a process: `readonlyPreloadEnv`.
 */
export function buildReadonlyPreload(): Promise<string> {
  return once(READONLY, compileReadonly);
}

/** The environment that loads `library` and turns `suffix`'s writes to EROFS while `control` exists. */
export function readonlyPreloadEnv(
  library: string,
  control: string,
  suffix: string,
): Record<string, string> {
  return { LD_PRELOAD: library, READONLY_SHIM_CONTROL: control, READONLY_SHIM_SUFFIX: suffix };
}

/** NODE_PATH for the driver: it lives outside the project and requires pkcs11js. */
export const faultShimDriverEnv: Readonly<Record<string, string>> = { NODE_PATH: NODE_MODULES };

/**
 * The control and stats files of one fault shim user, in `dir` (which must exist).
 * `set` merges keys into the control file (an empty string removes a key) and replaces the
 * file atomically, so the shim never reads a half-written one.
 */
export class FaultControl {
  readonly controlFile: string;
  readonly statsFile: string;
  /** FAULT_PKCS11_CONTROL, FAULT_PKCS11_STATS and FAULT_PKCS11_MODULE (SoftHSM2). */
  readonly env: Record<string, string>;
  private readonly values = new Map<string, string>();
  private writes = 0;

  constructor(dir: string) {
    this.controlFile = join(dir, 'fault-control');
    this.statsFile = join(dir, 'fault-stats');
    this.env = {
      FAULT_PKCS11_CONTROL: this.controlFile,
      FAULT_PKCS11_STATS: this.statsFile,
      FAULT_PKCS11_MODULE: SOFTHSM_MODULE,
    };
    this.write();
  }

  /** Sets control keys, keeping the others; `''` removes a key. */
  set(values: Record<string, string | number>): void {
    for (const [key, value] of Object.entries(values)) {
      if (!/^[a-z][a-z0-9_]*$/.test(key)) throw new Error(`bad fault control key ${key}`);
      const text = String(value);
      if (/[\r\n=]/.test(text)) throw new Error(`bad value for fault control key ${key}`);
      if (text === '') this.values.delete(key);
      else this.values.set(key, text);
    }
    this.write();
  }

  /** Removes every control key: the shim passes everything through again. */
  clear(): void {
    this.values.clear();
    this.write();
  }

  /** The counters the shim wrote last ({} before it wrote any). */
  stats(): Record<string, number> {
    let text: string;
    try {
      text = readFileSync(this.statsFile, 'utf8');
    } catch {
      return {};
    }
    const stats: Record<string, number> = {};
    for (const line of text.split('\n')) {
      const m = /^(\w+)=(-?\d+)$/.exec(line.trim());
      if (m?.[1] !== undefined && m[2] !== undefined) stats[m[1]] = Number(m[2]);
    }
    return stats;
  }

  private write(): void {
    const body = [...this.values].map(([k, v]) => `${k}=${v}\n`).join('');
    const tmp = `${this.controlFile}.${process.pid}.${this.writes++}.tmp`;
    writeFileSync(tmp, body, { mode: 0o600 });
    renameSync(tmp, this.controlFile);
  }
}
