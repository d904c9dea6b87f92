/**
 * Temporary directories for tests, under os.tmpdir(). Every directory made here is removed
 * after the test file by an afterAll hook that this module registers when a test file
 * imports it; outside jest (scripts, benches) an exit hook removes them instead. Nothing
 * else needs to clean up token directories, trust dirs or server dirs.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();

function removeNow(): void {
  for (const d of made) rmSync(d, { recursive: true, force: true });
}

/** A fresh private directory `<tmp>/notary-hsm-<prefix>XXXXXX`, removed after the test file. */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `notary-hsm-${prefix.replace(/[^\w.-]/g, '_')}`));
  if (made.size === 0) process.on('exit', removeNow);
  made.add(dir);
  return dir;
}

/** Removes every directory made so far (runs by itself after each test file). */
export async function removeTempDirs(): Promise<void> {
  const dirs = [...made];
  made.clear();
  process.removeListener('exit', removeNow);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}

if (typeof afterAll === 'function') {
  try {
    afterAll(removeTempDirs);
  } catch {
    // loaded outside test collection (inside a test): the exit hook still cleans up
  }
}
