// CPU time of some of this process's threads, from /proc/self/task/<tid>/stat (Linux).
// Used for the CPU % of the decode pool: its threads (each reports its own thread
// id) plus libvips' own threads, which do sharp's decoding.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';

/** Clock ticks per second for utime/stime in /proc; 100 on every mainstream Linux. */
const CLOCK_TICKS = 100;

/** This thread's id (the kernel's tid), or null off Linux. Call it from the thread itself. */
export function currentThreadId(): number | null {
  try {
    // "/proc/thread-self" -> "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) ? tid : null;
  } catch {
    return null;
  }
}

/**
 * The calling thread's CPU clock in ms (its run time from /proc/thread-self/schedstat,
 * nanosecond resolution where /proc/.../stat counts 10 ms ticks), or null off Linux.
 */
export function threadCpuClock(): (() => number) | null {
  const read = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  try {
    return Number.isFinite(read()) ? read : null;
  } catch {
    return null;
  }
}

/** user + system CPU ms of each thread that `select` picks; null when /proc is unavailable. */
export function threadCpuMs(select: (tid: number, name: string) => boolean): Map<number, number> | null {
  if (os.platform() !== 'linux') return null;
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return null;
  }
  const out = new Map<number, number>();
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      // "tid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ')'.
      const close = stat.lastIndexOf(')');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      if (!select(Number(t), name)) continue;
      const fields = stat.slice(close + 2).split(' ');
      // Fields after comm start at 3 (state); utime is field 14, stime 15 (man 5 proc).
      const ticks = Number(fields[11]) + Number(fields[12]);
      out.set(Number(t), (ticks * 1000) / CLOCK_TICKS);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return out;
}

/**
 * Accumulates CPU time of a changing set of threads between start() and stop(),
 * sampling every `intervalMs` so that threads which end in between still count up to
 * their last sample.
 */
export class ThreadCpuMeter {
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  private available = true;
  private started = false;

  constructor(
    private readonly select: (tid: number, name: string) => boolean,
    private readonly intervalMs = 250,
  ) {}

  start(): this {
    this.sample();
    this.started = true;
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  sample(): void {
    const now = threadCpuMs(this.select);
    if (!now) {
      this.available = false;
      return;
    }
    for (const [tid, ms] of now) {
      // Threads there at start() count from then; threads born later count from zero.
      if (!this.first.has(tid)) this.first.set(tid, this.started ? 0 : ms);
      this.last.set(tid, ms);
    }
  }

  /** CPU ms used by the selected threads since start(), so far; null off Linux. */
  elapsedMs(): number | null {
    if (!this.available) return null;
    let total = 0;
    for (const [tid, ms] of this.last) total += ms - (this.first.get(tid) ?? 0);
    return total;
  }

  stop(): number | null {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
    return this.elapsedMs();
  }
}
