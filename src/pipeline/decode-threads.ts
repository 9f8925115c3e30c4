// How many threads decode and preprocess, and how much memory the images ahead of the
// engine may hold: the two defaults of the decode pool, in one place.
import os from 'node:os';
import type { BackendChoice } from '../runtime/backend.js';

/**
 * Decode threads for `cores` cores: every core when the engine computes on a GPU (the
 * CPU has nothing else to do), else one fewer, so the engine's own threads keep a core.
 */
export function defaultDecodeThreads(engineOnGpu: boolean, cores: number = os.availableParallelism()): number {
  return engineOnGpu ? Math.max(1, cores) : Math.max(1, cores - 1);
}

/** Whether the chosen backend runs the model on a GPU (tfjs-node-gpu, or an ONNX provider other than cpu). */
export function engineOnGpu(choice: Pick<BackendChoice, 'gpu' | 'backend' | 'onnx'> | undefined): boolean {
  if (!choice) return false;
  if (choice.gpu) return true;
  if (choice.backend === 'webgl' || choice.backend === 'webgpu') return true;
  return (choice.onnx?.executionProviders ?? []).some((p) => p !== 'cpu');
}

/**
 * Default `--prefetch-mb`: the images decoded ahead of the engine, counted as their
 * decoded full-size pixels while in flight and their model input once ready, stay under
 * this. One image bigger than the budget still runs, alone.
 */
export const DEFAULT_PREFETCH_MB = 512;
