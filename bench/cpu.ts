/**
 * CPU time of this process's main thread, of the whole process (worker threads and
 * libuv's thread pool included) and of its child processes, from /proc (Linux; elsewhere
 * only the whole process is known). Ticks are 10 ms (USER_HZ 100), so bursts of a few
 * seconds give percentages to within a few tenths.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const TICK_MS = 10;

/** utime + stime of a /proc stat file, in ms; undefined when it cannot be read. */
export function statMs(path: string): { ms: number; ppid: number } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // fields after "(comm)": state ppid … utime(14) stime(15), numbered from 1 with pid
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { ms: (utime + stime) * TICK_MS, ppid };
}

/** Busy time of the whole machine (all CPUs), in ms, from the first line of /proc/stat. */
export function machineBusyMs(): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  // cpu user nice system idle iowait irq softirq steal …
  const f = (text.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const busy = [0, 1, 2, 5, 6, 7].reduce((n, i) => n + (f[i] ?? 0), 0);
  return Number.isFinite(busy) ? busy * TICK_MS : undefined;
}

export interface CpuSnapshot {
  readonly at: number;
  readonly machineMs?: number;
  readonly processMs: number;
  readonly mainThreadMs?: number;
  /** Per child pid. */
  readonly children: ReadonlyMap<number, number>;
}

export function cpuSnapshot(): CpuSnapshot {
  const u = process.cpuUsage();
  const children = new Map<number, number>();
  let names: string[] = [];
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    // not Linux: no per-thread or per-child figures
  }
  for (const n of names) {
    const s = statMs(`/proc/${n}/stat`);
    if (s && s.ppid === process.pid) children.set(Number(n), s.ms);
  }
  const main = statMs(`/proc/self/task/${process.pid}/stat`)?.ms;
  const machine = machineBusyMs();
  return {
    at: performance.now(),
    ...(machine === undefined ? {} : { machineMs: machine }),
    processMs: (u.user + u.system) / 1000,
    ...(main === undefined ? {} : { mainThreadMs: main }),
    children,
  };
}

/** CPU use between two snapshots, in % of one core. */
export interface CpuUse {
  /** This whole process. */
  readonly process: number;
  /** The main thread (the event loop the bench measures). */
  readonly mainThread?: number;
  /** The rest of this process: worker threads, libuv's pool, V8's helpers. */
  readonly otherThreads?: number;
  /** Child processes alive at both snapshots (the module host). */
  readonly children: number;
  /**
   * Everything else the machine did meanwhile (other processes, the kernel's own work):
   * a figure taken while this is more than a few % was disturbed.
   */
  readonly others?: number;
}

export function cpuUse(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const wall = b.at - a.at;
  const pc = (ms: number): number => Math.round((1000 * ms) / wall) / 10;
  let children = 0;
  for (const [pid, ms] of b.children) {
    const before = a.children.get(pid);
    if (before !== undefined) children += ms - before;
  }
  const main =
    a.mainThreadMs !== undefined && b.mainThreadMs !== undefined
      ? b.mainThreadMs - a.mainThreadMs
      : undefined;
  const mine = b.processMs - a.processMs + children;
  const others =
    a.machineMs !== undefined && b.machineMs !== undefined
      ? pc(Math.max(0, b.machineMs - a.machineMs - mine))
      : undefined;
  return {
    process: pc(b.processMs - a.processMs),
    ...(main === undefined
      ? {}
      : { mainThread: pc(main), otherThreads: pc(Math.max(0, b.processMs - a.processMs - main)) }),
    children: pc(children),
    ...(others === undefined ? {} : { others }),
  };
}
