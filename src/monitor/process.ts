// This process's memory and CPU while a benchmark runs.
//
// Caveat on sampling: TF.js kernels (cpu backend, tfjs-node) run synchronously on
// the main thread, so a timer cannot fire *during* one predict() call. The sampled
// RSS peak is therefore a lower bound; call `sampler.sample()` yourself right after
// an inference (before disposing its outputs) to catch it, and report `maxRssByte()`
// (the kernel's high-water mark, which no sampling can miss) next to it.
import os from 'node:os';

/** What tf.memory() reports; passed in so this module does not import TF.js. */
export interface TfMemoryInfo {
  numBytes: number;
  numTensors: number;
}

export interface ProcessSamplerOptions {
  /** Sampling period in ms. Default 50. */
  intervalMs?: number;
  /** Called on every sample, e.g. `() => tf.memory()`. */
  tfMemory?: () => TfMemoryInfo;
}

export interface ProcessMemorySummary {
  /** Number of samples taken (start, timer ticks, manual sample() calls, stop). */
  samples: number;
  /** Sampling period in ms. */
  intervalMs: number;
  /** RSS at start(). */
  rssStartByte: number;
  /** Largest sampled RSS (a lower bound of the true peak; see file header). */
  rssPeakByte: number;
  /** Mean sampled RSS. */
  rssMeanByte: number;
  /** Largest sampled tf.memory().numBytes; null without a tfMemory callback. */
  tfBytesPeak: number | null;
  /** Largest sampled tf.memory().numTensors; null without a tfMemory callback. */
  tfTensorsPeak: number | null;
  /** tf.memory().numBytes at stop(); null without a tfMemory callback. */
  tfBytesEnd: number | null;
  /** tf.memory().numTensors at stop(); null without a tfMemory callback. */
  tfTensorsEnd: number | null;
}

/**
 * Samples process.memoryUsage.rss() (and tf.memory() via the callback) every
 * `intervalMs` between start() and stop(), keeping peak and mean (not every sample).
 */
export class ProcessSampler {
  readonly intervalMs: number;
  private readonly tfMemory?: () => TfMemoryInfo;
  private timer: NodeJS.Timeout | null = null;
  private count = 0;
  private rssSum = 0;
  private rssPeak = 0;
  private rssStart = 0;
  private tfBytesPeak: number | null = null;
  private tfTensorsPeak: number | null = null;
  private tfLast: TfMemoryInfo | null = null;

  constructor(options: ProcessSamplerOptions = {}) {
    this.intervalMs = options.intervalMs ?? 50;
    this.tfMemory = options.tfMemory;
  }

  /** Samples taken so far. */
  get sampleCount(): number {
    return this.count;
  }

  /** Resets, takes a first sample and starts the timer. Returns this. */
  start(): this {
    this.stopTimer();
    this.count = 0;
    this.rssSum = 0;
    this.rssPeak = 0;
    this.tfBytesPeak = null;
    this.tfTensorsPeak = null;
    this.tfLast = null;
    this.rssStart = process.memoryUsage.rss();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Takes one sample now (cheap: process.memoryUsage.rss() does not walk the heap). */
  sample(): void {
    const rss = process.memoryUsage.rss();
    this.count += 1;
    this.rssSum += rss;
    if (rss > this.rssPeak) this.rssPeak = rss;
    if (this.tfMemory) {
      const m = this.tfMemory();
      this.tfLast = m;
      this.tfBytesPeak = Math.max(this.tfBytesPeak ?? 0, m.numBytes);
      this.tfTensorsPeak = Math.max(this.tfTensorsPeak ?? 0, m.numTensors);
    }
  }

  /** Takes a last sample, stops the timer and summarises. */
  stop(): ProcessMemorySummary {
    this.stopTimer();
    this.sample();
    return {
      samples: this.count,
      intervalMs: this.intervalMs,
      rssStartByte: this.rssStart,
      rssPeakByte: this.rssPeak,
      rssMeanByte: this.rssSum / this.count,
      tfBytesPeak: this.tfBytesPeak,
      tfTensorsPeak: this.tfTensorsPeak,
      tfBytesEnd: this.tfLast?.numBytes ?? null,
      tfTensorsEnd: this.tfLast?.numTensors ?? null,
    };
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * Peak resident set size of this process since it started, in bytes:
 * process.resourceUsage().maxRSS is in kilobytes (getrusage ru_maxrss on Linux).
 * A lifetime high-water mark: it never goes down between models.
 */
export function maxRssByte(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** CPU use over a time window. */
export interface CpuUsage {
  /** (user + system CPU time of this process, all threads) / wall time × 100. 100 = one core busy; up to 100 × cores. */
  processPercentOfOneCore: number;
  /** os.availableParallelism(): logical cores this process may use. */
  cores: number;
  /**
   * Whole-machine busy time over the window, 0..100 (100 = every core busy), from the
   * delta of os.cpus() times (1 - idle/total). Includes other programs. Null when the
   * counters did not move (window shorter than their 10 ms tick, or os.cpus() empty).
   */
  systemPercent: number | null;
  /** Wall time of the window in ms. */
  wallMs: number;
  /** User-mode CPU time of this process in ms. */
  userMs: number;
  /** Kernel-mode CPU time of this process in ms. */
  systemMs: number;
}

interface CpuTimes {
  idle: number;
  total: number;
}

function machineCpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

export interface CpuUsageMeter {
  /** Ends the window and computes the usage. */
  stop(): CpuUsage;
}

/** Starts measuring CPU use; call stop() on the result to end the window. */
export function startCpuUsage(): CpuUsageMeter {
  const wall0 = process.hrtime.bigint();
  const proc0 = process.cpuUsage();
  const sys0 = machineCpuTimes();
  return {
    stop(): CpuUsage {
      const proc = process.cpuUsage(proc0); // µs, delta since proc0
      const wallUs = Number(process.hrtime.bigint() - wall0) / 1000;
      const sys1 = machineCpuTimes();
      const dTotal = sys1.total - sys0.total;
      const dIdle = sys1.idle - sys0.idle;
      return {
        processPercentOfOneCore: wallUs > 0 ? ((proc.user + proc.system) / wallUs) * 100 : 0,
        cores: os.availableParallelism(),
        systemPercent: dTotal > 0 ? Math.min(100, Math.max(0, (1 - dIdle / dTotal) * 100)) : null,
        wallMs: wallUs / 1000,
        userMs: proc.user / 1000,
        systemMs: proc.system / 1000,
      };
    },
  };
}

/** Runs fn and measures CPU use while it ran (until its promise settles). */
export async function cpuUsageDuring<T>(fn: () => T | Promise<T>): Promise<{ result: T; cpu: CpuUsage }> {
  const meter = startCpuUsage();
  const result = await fn();
  return { result, cpu: meter.stop() };
}
