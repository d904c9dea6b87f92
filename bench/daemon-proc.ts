/**
 * Where the CPU went during a phase of bench/daemon.ts, per process of the run (the
 * daemon's main thread and its other threads, its module host, the load generator, the
 * /healthz poller) from /proc (Linux; elsewhere the figures are absent), and the top
 * functions by self time of a V8 .cpuprofile (the daemon run under `--cpu-prof`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { machineBusyMs, statMs as stat } from './cpu';

/** Every live pid with its parent. */
function processTable(): Map<number, number> {
  const table = new Map<number, number>();
  let names: string[] = [];
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return table;
  }
  for (const n of names) {
    const s = stat(`/proc/${n}/stat`);
    if (s) table.set(Number(n), s.ppid);
  }
  return table;
}

/** The processes a snapshot follows, by role. */
export interface Watched {
  /** The server (its main thread is reported apart); its child processes are its module hosts. */
  readonly server: number;
  /** `daemon` gives `daemon main thread`, `daemon other threads`. */
  readonly serverLabel: string;
  readonly others: Readonly<Record<string, number>>;
}

interface Snapshot {
  readonly at: number;
  readonly machineMs?: number;
  readonly ms: ReadonlyMap<string, number>;
}

export function cpuSnapshot(w: Watched): Snapshot {
  const ms = new Map<string, number>();
  const put = (k: string, v: number | undefined): void => {
    if (v !== undefined) ms.set(k, v);
  };
  const whole = stat(`/proc/${w.server}/stat`)?.ms;
  const main = stat(`/proc/${w.server}/task/${w.server}/stat`)?.ms;
  put(`${w.serverLabel} main thread`, main);
  if (whole !== undefined && main !== undefined)
    put(`${w.serverLabel} other threads`, whole - main);
  let hosts: number | undefined;
  for (const [pid, ppid] of processTable()) {
    if (ppid !== w.server) continue;
    const s = stat(`/proc/${pid}/stat`);
    if (s) hosts = (hosts ?? 0) + s.ms;
  }
  put('module host', hosts);
  for (const [name, pid] of Object.entries(w.others)) put(name, stat(`/proc/${pid}/stat`)?.ms);
  const machine = machineBusyMs();
  return { at: performance.now(), ...(machine === undefined ? {} : { machineMs: machine }), ms };
}

/** % of one core per role between two snapshots, and the whole machine's busy % (of all cores). */
export function cpuBetween(a: Snapshot, b: Snapshot): Record<string, number> {
  const wall = b.at - a.at;
  const pc = (ms: number): number => Math.round((1000 * ms) / wall) / 10;
  const out: Record<string, number> = {};
  for (const [k, v] of b.ms) {
    const before = a.ms.get(k);
    if (before !== undefined) out[k] = pc(v - before);
  }
  if (a.machineMs !== undefined && b.machineMs !== undefined) {
    const machine = b.machineMs - a.machineMs;
    let ours = 0;
    for (const [k, v] of b.ms) ours += v - (a.ms.get(k) ?? v);
    out['machine (all cores)'] = pc(machine);
    // other processes and the kernel's own work: a figure taken while this is high was disturbed
    out['not this bench'] = pc(Math.max(0, machine - ours));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// .cpuprofile

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface ProfileEntry {
  readonly function: string;
  /** Self time, ms. */
  readonly selfMs: number;
  /** Self time as % of the profile's busy (non-idle) time. */
  readonly percent: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly busyMs: number;
  readonly idleMs: number;
  readonly top: readonly ProfileEntry[];
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url.replace(/^node:/, '');
}

/** Top `n` functions by self time (same name, file and line merged). */
export function summarizeProfile(file: string, n = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; sample i's time runs to the next delta
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i];
    const us = deltas[i + 1] ?? 0;
    if (id !== undefined) self.set(id, (self.get(id) ?? 0) + us);
  }
  const merged = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  for (const [id, us] of self) {
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const where = shortUrl(f.url);
    const name = `${f.functionName || '(anonymous)'}${where ? ` ${where}:${f.lineNumber + 1}` : ''}`;
    merged.set(name, (merged.get(name) ?? 0) + us);
  }
  const top = [...merged]
    .sort((x, y) => y[1] - x[1])
    .slice(0, n)
    .map(([fn, us]) => ({
      function: fn,
      selfMs: Math.round(us / 100) / 10,
      percent: busy > 0 ? Math.round((1000 * us) / busy) / 10 : 0,
    }));
  return { file, busyMs: Math.round(busy / 1000), idleMs: Math.round(idle / 1000), top };
}
