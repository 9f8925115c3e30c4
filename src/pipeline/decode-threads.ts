// How many threads decode and preprocess, and how much memory the images ahead of the
// engine may hold: the two defaults of the decode pool, in one place.
import os from 'node:os';
import type { BackendChoice } from '../engines/types.js';

/**
 * Decode threads for `cores` cores: every core when the engine computes on a GPU (the
 * CPU has nothing else to do), else one fewer, so the engine's own threads keep a core.
 */
export function defaultDecodeThreads(engineOnGpu: boolean, cores: number = os.availableParallelism()): number {
  return engineOnGpu ? Math.max(1, cores) : Math.max(1, cores - 1);
}

/** Whether the chosen engine runs the model on a GPU (tfjs-node-gpu, or an ONNX GPU provider). */
export function engineOnGpu(choice: Pick<BackendChoice, 'device'> | undefined): boolean {
  return choice?.device === 'gpu';
}

/**
 * Default `--prefetch-mb`: the images decoded ahead of the engine, counted as their
 * decoded full-size pixels while in flight and their model input once ready, stay under
 * this. One image bigger than the budget still runs, alone.
 */
export const DEFAULT_PREFETCH_MB = 512;
