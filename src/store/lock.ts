/**
 * One process per state directory. Two daemons appending to one log would each extend
 * the chain from their own head and each trust their own version state, so the second
 * one is refused. The lock is a file naming its holder by process ID and start time (from
 * /proc, so that a PID reused after a crash, or PID 1 of a restarted container, does not
 * look alive); a lock whose holder is gone (kill -9) is taken over.
 *
 * A lock file removed while its holder runs keeps no one out, so the holder remembers the
 * lock's device and inode (and keeps the file open) and `check` tells, before each batch
 * the audit log writes, whether the path still names that file with that content.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { link, open, readFile, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { NotaryHsmError } from '../errors';
import { identityOf, identityProblem, type FileIdentity } from './identity';

const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW } = constants;

/** The lock file's name inside the state directory. */
export const LOCK_FILE = 'lock';

/** A held state directory lock. */
export interface StateLock {
  /** The lock file. */
  readonly path: string;
  /**
   * Why the lock is no longer this process's, checked now: the lock file (or the whole
   * state directory) was removed or renamed, replaced by another file, or rewritten; or
   * the lock was released. Undefined while it is held. Costs one stat and one 64-byte read.
   */
  check(): string | undefined;
  /** Removes the lock file, if it is still the one this process made. */
  release(): Promise<void>;
}

/** "12345 678\n" → " (it names process 12345)", for messages. */
function naming(text: string): string {
  const pid = /^(\d+) /.exec(text)?.[1];
  return pid === undefined ? '' : ` (it names process ${pid})`;
}

/** The first 64 bytes of an open file (a lock file is shorter). */
function head(fd: number): Buffer {
  const buf = Buffer.alloc(64);
  return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0));
}

/** What the file at `path` starts with, or '' (never blocks: a FIFO there reads as ''). */
function peek(path: string): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
    return head(fd).toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The lock this process made, open through `file` (read back by `check`). */
class HeldLock implements StateLock {
  private released = false;
  private readonly mine: Buffer;
  private readonly identity: FileIdentity;

  constructor(
    readonly path: string,
    text: string,
    private readonly file: FileHandle,
  ) {
    this.mine = Buffer.from(text, 'utf8');
    this.identity = identityOf(file.fd);
  }

  check(): string | undefined {
    if (this.released) return `the lock ${this.path} was released`;
    const moved = identityProblem(this.path, this.identity, 'the lock file');
    if (moved !== undefined) return moved + naming(peek(this.path));
    // the same file: has someone written another holder into it?
    let now: Buffer;
    try {
      now = head(this.file.fd);
    } catch (err) {
      return `the lock file ${this.path} cannot be read (${(err as Error).message})`;
    }
    return now.equals(this.mine)
      ? undefined
      : `the lock file ${this.path} was rewritten${naming(now.toString('utf8'))}`;
  }

  async release(): Promise<void> {
    if (this.released) return;
    const ours = this.check() === undefined;
    this.released = true;
    try {
      if (ours) await unlink(this.path).catch(() => undefined);
    } finally {
      await this.file.close();
    }
  }
}

/** Start time of a process in clock ticks since boot, or undefined where /proc cannot tell. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses; field 22 is starttime
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The holder named by a lock file's text, if that process still runs. */
function liveHolder(text: string): number | undefined {
  const m = /^(\d+) (\d+|-)\n$/.exec(text);
  const pid = Number(m?.[1]);
  if (!m || !Number.isSafeInteger(pid) || pid <= 0 || !processExists(pid)) return undefined;
  const recorded = m[2];
  const now = startTime(pid);
  // unknown on either side: the process exists, so assume it is the holder
  return recorded === '-' || now === undefined || now === recorded ? pid : undefined;
}

function ioError(dir: string, cause: unknown): NotaryHsmError {
  return new NotaryHsmError(
    'AUDIT_UNAVAILABLE',
    `cannot lock the state directory ${dir}: ${(cause as Error).message}`,
    { cause },
  );
}

/**
 * Takes the lock of `dir` (which must exist).
 * throws: STATE_LOCKED (a live process, this one included, holds it), AUDIT_UNAVAILABLE
 */
export async function lockStateDir(dir: string): Promise<StateLock> {
  const path = join(dir, LOCK_FILE);
  const mine = `${process.pid} ${startTime(process.pid) ?? '-'}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const tmp = join(dir, `.lock.${process.pid}.${randomBytes(6).toString('hex')}`);
    let file: FileHandle | undefined;
    try {
      // written whole under a private name, then linked: the lock never exists half-written
      file = await open(tmp, 'wx+', 0o600);
      await file.writeFile(mine);
      const held = new HeldLock(path, mine, file); // the tmp file's inode is the lock's
      await link(tmp, path);
      file = undefined; // the lock owns it now
      return held;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(dir, err);
    } finally {
      await file?.close();
      await rm(tmp, { force: true });
    }
    const text = await readFile(path, 'utf8').catch(() => '');
    const holder = liveHolder(text);
    if (holder !== undefined) {
      throw new NotaryHsmError(
        'STATE_LOCKED',
        `the state directory ${dir} is in use by process ${holder}` +
          (holder === process.pid
            ? ' (this one: the store is already open)'
            : `; if that process is not notary-hsmd, remove ${path}`),
        { details: { dir, pid: holder } },
      );
    }
    // Stale: move it aside, and put it back if it turns out someone took it meanwhile.
    const aside = `${path}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
    try {
      await rename(path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw ioError(dir, err);
    }
    const moved = await readFile(aside, 'utf8').catch(() => '');
    if (moved !== text) await link(aside, path).catch(() => undefined);
    await rm(aside, { force: true });
  }
  throw new NotaryHsmError('STATE_LOCKED', `the state directory ${dir} is being locked by others`, {
    details: { dir },
  });
}
