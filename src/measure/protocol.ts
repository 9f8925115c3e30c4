// Messages between `backbones bench` (parent) and the one child process per model.
import type { ModelResult } from './result.js';
import type { RunSpec } from '../spec/spec.js';

/** What the child measures: the spec of one model × backend × precision (resolved by the parent), and how. */
export interface ChildConfig {
  spec: RunSpec;
  /** The model as the report names it. */
  model: string;
  batchSizes: number[];
  warmup: number;
  /** Fixed number of timed runs; else adaptive (at least MIN_RUNS and MIN_SECONDS, see child.ts). */
  iterations?: number;
  durationS?: number;
  /** Folder of real images for the end-to-end measurement (decoded as the spec says). */
  images?: string;
}

export type ChildMessage =
  | { type: 'ready'; pid: number }
  | { type: 'progress'; message: string }
  /** A timed window starts/ends: the parent polls GPU and RSS for exactly these windows. */
  | { type: 'window'; batchSize: number; phase: 'start' | 'end' }
  | { type: 'runtime'; backend: string; label: string; threads: number; tfjs: string; backendVersion?: string; device: 'cpu' | 'gpu'; provider: string; adapter: string }
  | { type: 'result'; result: ModelResult }
  | { type: 'failed'; error: string; partial?: ModelResult };

export type ParentMessage = { type: 'config'; config: ChildConfig } | { type: 'window-ack' } | { type: 'exit' };
