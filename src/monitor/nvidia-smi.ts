// GPU facts and memory/utilisation polling through the `nvidia-smi` CLI.
//
// - Every call is async (child_process.spawn): a slow or hung nvidia-smi never
//   blocks the event loop, and it is SIGKILLed (with its process group) after
//   `timeoutMs`; the promise settles at the deadline without waiting for pipes.
// - The command and environment are read at call time (`command`, `env` options,
//   default `process.env`), so tests put a fake `nvidia-smi` first on PATH.
// - Unmeasured values are `null` ("[N/A]", "[Not Supported]", blank), never 0.
import { spawn } from 'node:child_process';

export const NVIDIA_SMI = 'nvidia-smi';
export const DEFAULT_NVIDIA_SMI_TIMEOUT_MS = 2000;
export const DEFAULT_GPU_POLL_MS = 100;

const MIB = 1024 * 1024;

export const GPU_QUERY_ARGS = [
  '--query-gpu=index,name,driver_version,memory.total,memory.used,utilization.gpu',
  '--format=csv,noheader,nounits',
] as const;

export const COMPUTE_APPS_QUERY_ARGS = ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'] as const;

/** How to run nvidia-smi. All optional; read at call time. */
export interface NvidiaSmiOptions {
  /** Kill nvidia-smi and report a timeout after this many milliseconds. Default 2000. */
  timeoutMs?: number;
  /** Executable name or path. Default 'nvidia-smi' (looked up on `env.PATH`). */
  command?: string;
  /** Environment for the child, also used for the PATH lookup. Default `process.env` at call time. */
  env?: NodeJS.ProcessEnv;
}

/** Why nvidia-smi gave no data. */
export type NvidiaSmiUnavailableReason =
  | 'nvidia-smi not found'
  | `nvidia-smi timed out after ${number} ms`
  | `nvidia-smi failed: ${string}`;

export interface NvidiaSmiUnavailable {
  available: false;
  reason: NvidiaSmiUnavailableReason;
}

/** One row of `--query-gpu`. */
export interface GpuInfo {
  /** nvidia-smi's GPU index. */
  index: number;
  /** e.g. "NVIDIA H100 80GB HBM3". */
  name: string;
  /** Driver version string, e.g. "535.104.05"; null when not reported. */
  driverVersion: string | null;
  /** memory.total (MiB from nvidia-smi) in bytes; null when not reported. */
  memoryTotalByte: number | null;
  /** memory.used (device-wide, all processes) in bytes; null when not reported. */
  memoryUsedByte: number | null;
  /** utilization.gpu in percent (0..100); null when not reported. */
  utilizationPercent: number | null;
}

/** One row of `--query-compute-apps`. */
export interface ComputeApp {
  pid: number;
  /** used_memory (MiB from nvidia-smi) in bytes; null when "[N/A]" (e.g. Windows WDDM). */
  usedMemoryByte: number | null;
}

export type GpuQueryResult = { available: true; gpus: GpuInfo[] } | NvidiaSmiUnavailable;
export type ComputeAppsQueryResult = { available: true; apps: ComputeApp[] } | NvidiaSmiUnavailable;

type RunResult = { ok: true; stdout: string } | NvidiaSmiUnavailable;

function firstLine(s: string): string {
  return s.split(/\r?\n/).map((l) => l.trim()).find((l) => l.length > 0) ?? '';
}

/** Runs nvidia-smi with args; never rejects. */
export function runNvidiaSmi(args: readonly string[], options: NvidiaSmiOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_NVIDIA_SMI_TIMEOUT_MS;
  const command = options.command ?? NVIDIA_SMI;
  const env = options.env ?? process.env;
  const ownGroup = process.platform !== 'win32';
  return new Promise<RunResult>((resolve) => {
    let settled = false;
    const settle = (r: RunResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    let child: ReturnType<typeof spawn>;
    try {
      // detached → own process group, so a timeout also kills grandchildren (a
      // wrapper script's `sleep`) that would otherwise keep the pipes open.
      child = spawn(command, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: ownGroup, windowsHide: true });
    } catch (e) {
      resolve({ available: false, reason: `nvidia-smi failed: ${(e as Error).message}` });
      return;
    }
    const timer = setTimeout(() => {
      try {
        if (ownGroup && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      settle({ available: false, reason: `nvidia-smi timed out after ${timeoutMs} ms` });
    }, timeoutMs);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') settle({ available: false, reason: 'nvidia-smi not found' });
      else settle({ available: false, reason: `nvidia-smi failed: ${err.message}` });
    });
    child.on('close', (code, signal) => {
      if (code === 0) return settle({ ok: true, stdout });
      // nvidia-smi prints its own failures ("NVIDIA-SMI has failed because it couldn't
      // communicate with the NVIDIA driver...") on stdout.
      const msg = firstLine(stderr) || firstLine(stdout) || (signal ? `killed by ${signal}` : `exit code ${code}`);
      settle({ available: false, reason: `nvidia-smi failed: ${msg}` });
    });
  });
}

/** A CSV cell as a number; null for "[N/A]", "[Not Supported]", "N/A", blank or non-numeric. */
export function parseNvidiaNumber(cell: string | undefined): number | null {
  if (cell === undefined) return null;
  const t = cell.trim();
  if (t === '' || /^\[?(n\/a|not supported|unknown error|insufficient permissions|gpu is lost)\]?$/i.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

function parseNvidiaString(cell: string | undefined): string | null {
  if (cell === undefined) return null;
  const t = cell.trim();
  if (t === '' || /^\[.*\]$/.test(t) || /^n\/a$/i.test(t)) return null;
  return t;
}

function mibToByte(mib: number | null): number | null {
  return mib === null ? null : Math.round(mib * MIB);
}

/** Parses `--query-gpu=index,name,driver_version,memory.total,memory.used,utilization.gpu` CSV (noheader, nounits). */
export function parseGpuCsv(stdout: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    let cells = line.split(',');
    if (cells.length < 6) continue;
    // A GPU name containing commas: everything between index and the last 4 cells.
    if (cells.length > 6) cells = [cells[0]!, cells.slice(1, cells.length - 4).join(','), ...cells.slice(-4)];
    const index = parseNvidiaNumber(cells[0]);
    if (index === null || !Number.isInteger(index)) continue;
    gpus.push({
      index,
      name: parseNvidiaString(cells[1]) ?? 'unknown GPU',
      driverVersion: parseNvidiaString(cells[2]),
      memoryTotalByte: mibToByte(parseNvidiaNumber(cells[3])),
      memoryUsedByte: mibToByte(parseNvidiaNumber(cells[4])),
      utilizationPercent: parseNvidiaNumber(cells[5]),
    });
  }
  return gpus;
}

/** Parses `--query-compute-apps=pid,used_memory` CSV (noheader, nounits); skips lines without a pid. */
export function parseComputeAppsCsv(stdout: string): ComputeApp[] {
  const apps: ComputeApp[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const cells = line.split(',');
    if (cells.length < 2) continue; // blank, or "No running processes found"
    const pid = parseNvidiaNumber(cells[0]);
    if (pid === null || !Number.isInteger(pid)) continue;
    apps.push({ pid, usedMemoryByte: mibToByte(parseNvidiaNumber(cells[1])) });
  }
  return apps;
}

/** GPUs as nvidia-smi lists them, or why it could not. */
export async function queryGpus(options: NvidiaSmiOptions = {}): Promise<GpuQueryResult> {
  const r = await runNvidiaSmi(GPU_QUERY_ARGS, options);
  if (!('ok' in r)) return r;
  return { available: true, gpus: parseGpuCsv(r.stdout) };
}

/** Processes holding GPU memory (all GPUs), or why nvidia-smi could not tell. */
export async function queryComputeApps(options: NvidiaSmiOptions = {}): Promise<ComputeAppsQueryResult> {
  const r = await runNvidiaSmi(COMPUTE_APPS_QUERY_ARGS, options);
  if (!('ok' in r)) return r;
  return { available: true, apps: parseComputeAppsCsv(r.stdout) };
}

/**
 * GPU usage while a benchmark ran, from nvidia-smi polls. Device figures are summed
 * over all GPUs nvidia-smi lists (utilisation: the busiest GPU). Every field is
 * null when nvidia-smi did not report it; the whole summary is null when
 * nvidia-smi was absent or never answered (= "n/a", never 0).
 */
export interface GpuSummary {
  /** Number of successful polls (a count, not the samples themselves). */
  samples: number;
  /** Pause between polls. */
  pollIntervalMs: number;
  /** GPUs the device figures cover. */
  gpuIndices: number[];
  /** Peak GPU memory of this process (summed over GPUs). `null` when nvidia-smi never listed the pid (e.g. a container's PID namespace hides it); a poll where it is missing counts as 0. */
  processMemoryPeakByte: number | null;
  /** Mean of the same over polls. */
  processMemoryMeanByte: number | null;
  /** Peak device-wide `memory.used` (all processes). */
  deviceMemoryUsedPeakByte: number | null;
  /** Mean device-wide `memory.used`. */
  deviceMemoryUsedMeanByte: number | null;
  /** `memory.total`. */
  deviceMemoryTotalByte: number | null;
  /** Peak `utilization.gpu`, 0–100. */
  utilizationPeakPercent: number | null;
  /** Mean `utilization.gpu`, 0–100. */
  utilizationMeanPercent: number | null;
}

/** One successful poll. */
export interface GpuSample {
  /** Date.now() when the poll finished. */
  timeMs: number;
  /** This pid's memory summed over GPUs; null when the pid was not listed or memory was "[N/A]". */
  processMemoryByte: number | null;
  deviceMemoryUsedByte: number | null;
  deviceMemoryTotalByte: number | null;
  utilizationPercent: number | null;
  gpuIndices: number[];
}

export interface GpuPollerOptions extends NvidiaSmiOptions {
  /** Process whose GPU memory is tracked. Default: this process. */
  pid?: number;
  /** Pause between polls in ms (after one finishes, before the next starts). Default 100. */
  intervalMs?: number;
}

function sumOrNull(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0);
}

function maxOrNull(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : Math.max(...v);
}

function meanOrNull(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
}

/**
 * Polls nvidia-smi (GPUs + compute apps) in the background. Polls never overlap:
 * the next one is scheduled with setTimeout only after the previous finished.
 * Stops polling for good at the first "nvidia-smi not found".
 *
 *   const poller = new GpuPoller({ pid: process.pid }).start();
 *   ... run the benchmark ...
 *   const gpu = await poller.stop(); // GpuSummary | null
 */
export class GpuPoller {
  readonly pid: number;
  readonly intervalMs: number;
  /** Successful polls so far. */
  readonly samples: GpuSample[] = [];
  /** The last reason nvidia-smi gave no data, if any. */
  lastError: NvidiaSmiUnavailableReason | null = null;
  private readonly smi: NvidiaSmiOptions;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private pidSeen = false;

  constructor(options: GpuPollerOptions = {}) {
    this.pid = options.pid ?? process.pid;
    this.intervalMs = options.intervalMs ?? DEFAULT_GPU_POLL_MS;
    this.smi = { timeoutMs: options.timeoutMs, command: options.command, env: options.env };
  }

  /** Starts polling now (first poll immediately). Returns this. */
  start(): this {
    if (this.running) return this;
    this.running = true;
    this.schedule(0);
    return this;
  }

  /** Runs one poll now (also usable without start()). Never rejects. */
  async pollOnce(): Promise<void> {
    const [gpus, apps] = await Promise.all([queryGpus(this.smi), queryComputeApps(this.smi)]);
    if (!gpus.available) {
      this.lastError = gpus.reason;
      if (gpus.reason === 'nvidia-smi not found') this.running = false;
      return;
    }
    let processMemoryByte: number | null = null;
    if (apps.available) {
      const mine = apps.apps.filter((a) => a.pid === this.pid);
      if (mine.length > 0) {
        this.pidSeen = true;
        processMemoryByte = sumOrNull(mine.map((a) => a.usedMemoryByte));
      } else {
        processMemoryByte = 0; // listed nothing for us this time; null overall if never seen
      }
    } else {
      this.lastError = apps.reason;
    }
    this.samples.push({
      timeMs: Date.now(),
      processMemoryByte,
      deviceMemoryUsedByte: sumOrNull(gpus.gpus.map((g) => g.memoryUsedByte)),
      deviceMemoryTotalByte: sumOrNull(gpus.gpus.map((g) => g.memoryTotalByte)),
      utilizationPercent: maxOrNull(gpus.gpus.map((g) => g.utilizationPercent)),
      gpuIndices: gpus.gpus.map((g) => g.index),
    });
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.inFlight = this.pollOnce().finally(() => {
        this.inFlight = null;
        this.schedule(this.intervalMs);
      });
    }, delayMs);
    this.timer.unref(); // a forgotten poller must not keep the process alive
  }

  /** Stops polling, waits for a poll in flight, and summarises. Null when nothing was measured. */
  async stop(): Promise<GpuSummary | null> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inFlight) await this.inFlight;
    return this.summary();
  }

  /** Summary of the polls so far; null when there were none (nvidia-smi absent or failing). */
  summary(): GpuSummary | null {
    const s = this.samples;
    if (s.length === 0) return null;
    const proc = this.pidSeen ? s.map((x) => x.processMemoryByte) : [];
    return {
      samples: s.length,
      pollIntervalMs: this.intervalMs,
      gpuIndices: [...new Set(s.flatMap((x) => x.gpuIndices))].sort((a, b) => a - b),
      processMemoryPeakByte: maxOrNull(proc),
      processMemoryMeanByte: meanOrNull(proc),
      deviceMemoryUsedPeakByte: maxOrNull(s.map((x) => x.deviceMemoryUsedByte)),
      deviceMemoryUsedMeanByte: meanOrNull(s.map((x) => x.deviceMemoryUsedByte)),
      deviceMemoryTotalByte: maxOrNull(s.map((x) => x.deviceMemoryTotalByte)),
      utilizationPeakPercent: maxOrNull(s.map((x) => x.utilizationPercent)),
      utilizationMeanPercent: meanOrNull(s.map((x) => x.utilizationPercent)),
    };
  }
}
