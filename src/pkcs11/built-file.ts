/**
 * Where a compiled file meant to be started on its own (a module host's entry, the
 * verification thread's) lives: beside the calling module when it runs from dist/, or at
 * the same place under dist/ when the caller runs from its sources (ts-jest).
 */
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';

/** `file` beside `dir`, else in dist/ mirrored from `dir` under src/; undefined when neither exists. */
export function builtFile(dir: string, file: string): string | undefined {
  const beside = join(dir, file);
  if (existsSync(beside)) return beside;
  const at = dir.lastIndexOf(`${sep}src${sep}`);
  if (at < 0) return undefined;
  const built = join(dir.slice(0, at), 'dist', dir.slice(at + 1), file);
  return existsSync(built) ? built : undefined;
}
