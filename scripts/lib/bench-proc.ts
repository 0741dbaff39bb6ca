/**
 * Benchmark helpers over /proc: the workerd processes under a wrangler process, and their resident memory
 * sampled while a transfer runs.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcEntry {
  pid: number;
  ppid: number;
  comm: string;
  /** Start time in clock ticks since boot: with the pid, it names one process even after the pid is reused. */
  start: string;
}

function readProc(pid: number): ProcEntry | undefined {
  try {
    // /proc/<pid>/stat is "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    // rest[0] is field 3 (state), so field 22 (starttime) is rest[19].
    return { pid, ppid: Number(rest[1]), comm: stat.slice(open + 1, close), start: rest[19] ?? '' };
  } catch {
    return undefined; // gone meanwhile
  }
}

/**
 * Every live descendant of `root` (children, grandchildren, ...; parents before children), found by walking /proc.
 * Each carries its start time, so it can be told apart from a later reuse of its pid.
 */
export function descendants(root: number): ProcEntry[] {
  const all: ProcEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const entry = readProc(Number(name));
    if (entry) all.push(entry);
  }
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
