/**
 * Is the file at a path still the one this process opened? The store writes the audit log
 * and holds the lock through descriptors, and a descriptor keeps working after its file
 * was removed, renamed or replaced: writes land in a file no one will read again, and a
 * lock file that is gone no longer keeps a second daemon out. So the store remembers the
 * device and inode of each file it opened and compares them with what the path names now.
 * One stat system call while the file is intact; the directory is looked at only to say
 * what happened once it is not.
 */
import { fstatSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** A file's device and inode: what stays the same for as long as it is the same file. */
export interface FileIdentity {
  readonly dev: bigint;
  readonly ino: bigint;
}

/** The identity of an open file descriptor (fstat). throws: the fstat error */
export function identityOf(fd: number): FileIdentity {
  const st = fstatSync(fd, { bigint: true });
  return { dev: st.dev, ino: st.ino };
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code ?? (err instanceof Error ? err.message : String(err));
}

/**
 * What became of the file that was `id` at `path` (named `what`, e.g. "the audit log"):
 * undefined while the path still names it, else a sentence saying it was removed or
 * renamed, replaced, that its state directory went, or that it cannot be checked.
 */
export function identityProblem(path: string, id: FileIdentity, what: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st !== undefined) {
      return st.dev === id.dev && st.ino === id.ino
        ? undefined
        : `${what} ${path} was replaced by another file`;
    }
  } catch (err) {
    return `${what} ${path} cannot be checked (${reason(err)})`;
  }
  const dir = dirname(path);
  let dirExists: boolean;
  try {
    dirExists = statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    dirExists = false;
  }
  return dirExists
    ? `${what} ${path} was removed or renamed`
    : `the state directory ${dir} was removed or renamed (${what} ${path} is gone)`;
}
