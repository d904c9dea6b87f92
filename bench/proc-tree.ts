/**
 * CPU time of a service and every process under it (its module hosts, say), from
 * /proc/PID/stat of each (Linux). A process's stat already counts all of its threads.
 */
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { machineBusyMs, statMs } from './cpu';

/** `root` and its descendants. */
function tree(root: number): number[] {
  const parent = new Map<number, number>();
  let names: string[] = [];
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return [root];
  }
  for (const n of names) {
    const s = statMs(`/proc/${n}/stat`);
    if (s) parent.set(Number(n), s.ppid);
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  }
  return out;
}

export interface TreeSnapshot {
  readonly at: number;
  readonly machineMs?: number;
  /** Per watched name: per pid of its tree, ms of CPU. */
  readonly ms: ReadonlyMap<string, ReadonlyMap<number, number>>;
}

/**
 * CPU of each named process tree (`roots`: name → root pid) and of each named process
 * alone (`alone`: the bench itself, whose tree holds everything it started).
 */
export function treeSnapshot(
  roots: Readonly<Record<string, number>>,
  alone: Readonly<Record<string, number>> = {},
): TreeSnapshot {
  const ms = new Map<string, Map<number, number>>();
  const watched: [string, number[]][] = [
    ...Object.entries(roots).map(([name, root]): [string, number[]] => [name, tree(root)]),
    ...Object.entries(alone).map(([name, pid]): [string, number[]] => [name, [pid]]),
  ];
  for (const [name, pids] of watched) {
    const m = new Map<number, number>();
    for (const pid of pids) {
      const s = statMs(`/proc/${pid}/stat`);
      if (s) m.set(pid, s.ms);
    }
    ms.set(name, m);
  }
  const machine = machineBusyMs();
  return { at: performance.now(), ...(machine === undefined ? {} : { machineMs: machine }), ms };
}

/**
 * % of one core per named tree between two snapshots (processes alive at both), and
 * `others`: what the rest of the machine used meanwhile (a figure taken while it is high
 * was disturbed by another program).
 */
export function treeBetween(a: TreeSnapshot, b: TreeSnapshot): Record<string, number> {
  const wall = b.at - a.at;
  const pc = (v: number): number => Math.round((1000 * v) / wall) / 10;
  const out: Record<string, number> = {};
  let ours = 0;
  for (const [name, after] of b.ms) {
    const before = a.ms.get(name);
    let sum = 0;
    for (const [pid, v] of after) {
      const was = before?.get(pid);
      if (was !== undefined) sum += v - was;
    }
    ours += sum;
    out[name] = pc(sum);
  }
  if (a.machineMs !== undefined && b.machineMs !== undefined) {
    out.others = pc(Math.max(0, b.machineMs - a.machineMs - ours));
  }
  return out;
}
