/**
 * One process per state directory. Two daemons appending to one log would each extend
 * the chain from their own head and each trust their own version state, so the second
 * one is refused. The lock is a file naming its holder by process ID and start time (from
 * /proc, so that a PID reused after a crash, or PID 1 of a restarted container, does not
 * look alive); a lock whose holder is gone (kill -9) is taken over.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NotaryHsmError } from '../errors';

/** The lock file's name inside the state directory. */
export const LOCK_FILE = 'lock';

/** A held state directory lock. */
export interface StateLock {
  release(): Promise<void>;
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
    try {
      // written whole under a private name, then linked: the lock never exists half-written
      await writeFile(tmp, mine, { mode: 0o600, flag: 'wx' });
      await link(tmp, path);
      return {
        release: async () => {
          const text = await readFile(path, 'utf8').catch(() => undefined);
          if (text === mine) await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(dir, err);
    } finally {
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
