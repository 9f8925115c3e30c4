// Messages between `backbones bench` (parent) and the one child process per model.
import type { DecodeMode } from '../images/index.js';
import type { ModelResult } from './result.js';
import type { ModelSelection } from '../zoo/load.js';

export interface WorkerConfig extends ModelSelection {
  model: string;
  /** undefined: imagenet when cached, else random. */
  weights?: string;
  batchSizes: number[];
  warmup: number;
  /** Fixed number of timed runs; else adaptive (at least MIN_RUNS and MIN_SECONDS, see worker.ts). */
  iterations?: number;
  durationS?: number;
  /** Folder of real images for the end-to-end measurement. */
  images?: string;
  /** End-to-end decoding: 'exact' (default) or 'fast'. */
  decode?: DecodeMode;
  /** Decode-pool threads; undefined: the default for the engine. */
  decodeThreads?: number;
  /** Prefetch budget, MiB. */
  prefetchMb?: number;
  backend: string;
  /** --device: auto, cpu or gpu. */
  device?: string;
  /** --provider: ONNX Runtime execution providers, comma-separated. */
  provider?: string;
  /** onnx intra-op threads (default: every core). */
  threads?: number;
}

export type WorkerMessage =
  | { type: 'ready'; pid: number }
  | { type: 'progress'; message: string }
  /** A timed window starts/ends: the parent polls GPU and RSS for exactly these windows. */
  | { type: 'window'; batchSize: number; phase: 'start' | 'end' }
  | { type: 'runtime'; backend: string; label: string; threads: number; tfjs: string; backendVersion?: string; device: 'cpu' | 'gpu'; provider: string; adapter: string }
  | { type: 'result'; result: ModelResult }
  | { type: 'failed'; error: string; partial?: ModelResult };

export type ParentMessage = { type: 'config'; config: WorkerConfig } | { type: 'window-ack' } | { type: 'exit' };
