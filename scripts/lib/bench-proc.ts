/**
 * Benchmark helpers over /proc: the workerd processes under a wrangler process, their resident memory sampled
 * while a transfer runs, and the CPU every process of the machine spent over a span.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
  /** Start time in clock ticks since boot: with the pid, it names one process even after the pid is reused. */
  start: string;
  /** CPU time used so far, user and system, in clock ticks. */
  cpuTicks: number;
}

/** Linux's USER_HZ, the unit of /proc's CPU times: 100 on every architecture it runs the benches on. */
const TICKS_PER_SECOND = 100;

function readProc(pid: number): ProcEntry | undefined {
  try {
    // /proc/<pid>/stat is "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    // rest[0] is field 3 (state), so fields 14-15 (utime, stime) are rest[11-12] and 22 (starttime) is rest[19].
    return { pid, ppid: Number(rest[1]), comm: stat.slice(open + 1, close), start: rest[19] ?? '', cpuTicks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined; // gone meanwhile
  }
}

/**
 * Every live descendant of `root` (children, grandchildren, ...; parents before children), found by walking /proc.
 * Each carries its start time, so it can be told apart from a later reuse of its pid.
 */
export function descendants(root: number): ProcEntry[] {
  const all = processes();
  const children = new Map<number, ProcEntry[]>();
  for (const entry of all) {
    const list = children.get(entry.ppid) ?? [];
    list.push(entry);
    children.set(entry.ppid, list);
  }
  const found: ProcEntry[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** Every process of the machine now. */
export function processes(): ProcEntry[] {
  const all: ProcEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const entry = readProc(Number(name));
    if (entry) all.push(entry);
  }
  return all;
}

/**
 * The CPU time (ms) the machine's processes spent between two snapshots of `processes()`, added up by the group
 * `groupOf` puts each in; a process started meanwhile counts from zero, one gone meanwhile is not counted.
 */
export function cpuSpentMs(before: readonly ProcEntry[], after: readonly ProcEntry[], groupOf: (p: ProcEntry) => string): Map<string, number> {
  const earlier = new Map(before.map((p) => [`${p.pid}:${p.start}`, p.cpuTicks]));
  const spent = new Map<string, number>();
  for (const p of after) {
    const ticks = p.cpuTicks - (earlier.get(`${p.pid}:${p.start}`) ?? 0);
    if (ticks <= 0) continue;
    const group = groupOf(p);
    spent.set(group, (spent.get(group) ?? 0) + (ticks * 1000) / TICKS_PER_SECOND);
  }
  return spent;
}

/** stackGroups' name for a wrangler dev's processes other than workerd, and for PostgreSQL's. */
export const wranglerGroup = (name: string): string => `${name}'s wrangler dev (node, esbuild)`;
export const POSTGRES_GROUP = 'PostgreSQL';

/**
 * Which part of a bench's stack a process is, for `cpuSpentMs`: each wrangler dev's workerd processes (its Worker and
 * wrangler's proxy) or its other processes (node, esbuild), the bench process, PostgreSQL, radosgw with its Ceph
 * daemons, or other.
 */
export function stackGroups(wranglers: readonly { name: string; pid: number }[], benchProcess: string): (p: ProcEntry) => string {
  const trees = wranglers.map((w) => ({ name: w.name, pids: new Set([w.pid, ...descendants(w.pid).map((p) => p.pid)]) }));
  return (p) => {
    const tree = trees.find((t) => t.pids.has(p.pid));
    if (tree) return p.comm === 'workerd' ? `${tree.name}'s workerd (Worker and wrangler's proxy)` : wranglerGroup(tree.name);
    if (p.pid === process.pid) return benchProcess;
    if (p.comm === 'postgres') return POSTGRES_GROUP;
    if (p.comm === 'radosgw' || p.comm.startsWith('ceph')) return 'radosgw and its Ceph daemons';
    return 'other';
  };
}

/** The pids of the `workerd` processes wrangler (pid `wranglerPid`) runs. */
export function workerdPids(wranglerPid: number): number[] {
  return descendants(wranglerPid)
    .filter((p) => p.comm === 'workerd')
    .map((p) => p.pid);
}

/** SIGKILLs the processes that are still exactly `entries` (same pid, name and start time). */
export function killIfStillThere(entries: readonly ProcEntry[]): void {
  killAll(entries.filter((e) => {
    const now = readProc(e.pid);
    return now !== undefined && now.comm === e.comm && now.start === e.start;
  }).map((e) => e.pid));
}

/** VmRSS of one process in bytes, or undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Sum of VmRSS over `pids` (the processes still alive). */
export function totalRss(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) sum += rssBytes(pid) ?? 0;
  return sum;
}

export interface RssSample {
  /** Summed over the processes. */
  baseline: number;
  peak: number;
  last: number;
  samples: number;
  /** The same, per process. */
  perPid: { pid: number; baseline: number; peak: number }[];
}

export interface RssSampler {
  stop(): RssSample;
}

/** Samples the RSS of `pids` every `intervalMs` from now until stop(); baselines are the first sample. */
export function sampleRss(pids: readonly number[], intervalMs = 100): RssSampler {
  const perPid = pids.map((pid) => {
    const rss = rssBytes(pid) ?? 0;
    return { pid, baseline: rss, peak: rss };
  });
  const baseline = perPid.reduce((sum, p) => sum + p.baseline, 0);
  let peak = baseline;
  let last = baseline;
  let samples = 1;
  const take = (): void => {
    last = 0;
    for (const p of perPid) {
      const rss = rssBytes(p.pid) ?? 0;
      if (rss > p.peak) p.peak = rss;
      last += rss;
    }
    samples++;
    if (last > peak) peak = last;
  };
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { baseline, peak, last, samples, perPid };
    },
  };
}

/** The command line of a process, arguments joined by spaces ('' once it is gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** SIGKILLs `pids`, ignoring the ones already gone. Synchronous, so it may run in an exit handler. */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
