// Parent side of `backbones bench`: one child process per model, one after the
// other, so memory and GPU figures belong to that model alone and a crash or
// out-of-memory kill is only that model's failure. The parent polls nvidia-smi and
// the child's RSS (from /proc, Linux) during each timed window: the child's own
// event loop is blocked by synchronous kernels and could not poll reliably.
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { startChild } from '../spawn.js';
import { GpuPoller } from '../monitor/nvidia-smi.js';
import { unmeasuredModel, type ModelResult } from './result.js';
import type { ParentMessage, ChildConfig, ChildMessage } from './protocol.js';

export interface RuntimeInfo {
  backend: string;
  label: string;
  threads: number;
  tfjs: string;
  backendVersion?: string;
  device: 'cpu' | 'gpu';
  provider: string;
  adapter: string;
}

export interface RunModelOptions {
  gpuPollMs: number;
  /** PATH etc. for nvidia-smi (tests put a fake first on PATH). */
  env?: NodeJS.ProcessEnv;
  onProgress?: (message: string) => void;
  onRuntime?: (runtime: RuntimeInfo) => void;
}

/** VmRSS / VmHWM of a process from /proc (bytes); null where /proc is absent. */
export function procMemory(pid: number): { rssByte: number; hwmByte: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1]);
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    return Number.isFinite(rss) && Number.isFinite(hwm) ? { rssByte: rss * 1024, hwmByte: hwm * 1024 } : null;
  } catch {
    return null;
  }
}

/** Samples a child's RSS from /proc on a timer (never blocked by the child). */
class ChildRssPoller {
  peak: number | null = null;
  private timer: NodeJS.Timeout;
  constructor(
    private readonly pid: number,
    intervalMs: number,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }
  sample(): void {
    const m = procMemory(this.pid);
    if (m && (this.peak === null || m.rssByte > this.peak)) this.peak = m.rssByte;
  }
  stop(): number | null {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGKILL') return 'the process was killed (SIGKILL: out of memory?)';
  if (signal) return `the process was killed by ${signal}`;
  return `the process exited with code ${code} before reporting`;
}

/**
 * sharp decodes on libuv's thread pool, which every decode thread shares and which
 * libuv sizes once at start-up (4 threads unless UV_THREADPOOL_SIZE says otherwise):
 * give the child one per core so that `--images` can decode on every core.
 */
function withLibuvThreads(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.UV_THREADPOOL_SIZE) return env;
  return { ...env, UV_THREADPOOL_SIZE: String(Math.max(4, os.availableParallelism())) };
}

/** Benchmarks one model in a child process. Never throws: failures come back as status 'failed'. */
export function runModelInChild(config: ChildConfig, options: RunModelOptions): Promise<ModelResult> {
  return new Promise((resolve) => {
    const child: ChildProcess = startChild('./child.js', import.meta.url, {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: withLibuvThreads(options.env ?? process.env),
      serialization: 'advanced',
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    let result: ModelResult | null = null;
    const gpuByBatch = new Map<number, ModelResult['runs'][number]['gpu']>();
    const rssByBatch = new Map<number, number | null>();
    let gpu: GpuPoller | null = null;
    let rss: ChildRssPoller | null = null;
    const post = (msg: ParentMessage) => {
      if (child.connected) child.send(msg);
    };

    child.on('message', (msg: ChildMessage) => {
      switch (msg.type) {
        case 'ready':
          post({ type: 'config', config });
          break;
        case 'progress':
          options.onProgress?.(msg.message);
          break;
        case 'runtime':
          options.onRuntime?.(msg);
          break;
        case 'window':
          if (msg.phase === 'start') {
            gpu = new GpuPoller({ pid: child.pid!, intervalMs: options.gpuPollMs, env: options.env }).start();
            rss = new ChildRssPoller(child.pid!, Math.min(50, options.gpuPollMs));
            post({ type: 'window-ack' });
          } else {
            const g = gpu;
            const r = rss;
            gpu = null;
            rss = null;
            rssByBatch.set(msg.batchSize, r?.stop() ?? null);
            void (g ? g.stop() : Promise.resolve(null)).then((summary) => {
              gpuByBatch.set(msg.batchSize, summary);
              post({ type: 'window-ack' });
            });
          }
          break;
        case 'result':
        case 'failed': {
          const r = msg.type === 'result' ? msg.result : (msg.partial ?? null);
          if (r) {
            for (const run of r.runs) {
              run.gpu = gpuByBatch.get(run.batchSize) ?? null;
              const polled = rssByBatch.get(run.batchSize);
              if (polled != null) run.memory.rssPeakSampledByte = Math.max(run.memory.rssPeakSampledByte ?? 0, polled);
            }
            result = { ...r, status: msg.type === 'result' ? 'ok' : 'failed', osPeakRssByte: procMemory(child.pid!)?.hwmByte ?? null };
            if (msg.type === 'failed') result.error = msg.error;
          }
          post({ type: 'exit' });
          break;
        }
      }
    });

    child.on('exit', (code, signal) => {
      rss?.stop();
      void gpu?.stop();
      if (result) return resolve(result);
      const why = describeExit(code, signal);
      const lastLine = stderr.trim().split('\n').pop();
      resolve(unmeasuredModel(config.model, config.spec.weights, lastLine ? `${why}: ${lastLine}` : why));
    });
  });
}
