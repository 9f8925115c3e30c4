// How many threads decode and preprocess, and how much memory the images ahead of the
// engine may hold: the two defaults of the decode pool, in one place.
import os from 'node:os';

/** The threads one run computes with, sized together (threadPlan). */
export interface ThreadPlan {
  /** The engine's intra-op threads (ONNX Runtime; --threads). */
  engineThreads: number;
  /** Decode-pool threads (--decode-threads); 0 = the main thread. */
  decodeThreads: number;
  /** libvips threads per image that sharp decodes (PNG, WebP, and JPEGs the libjpeg-turbo decoder leaves to it). */
  libvipsThreads: number;
}

/**
 * How many threads of each kind, for `cores` cores, whether the engine computes on the CPU or a GPU:
 * - engine: every core. ONNX Runtime's idle threads do not spin, so while the engine
 *   waits for images they cost nothing; on a GPU they only run ops the GPU does not take.
 * - decode threads: every core, beside a GPU engine (the CPU has nothing else to do) and
 *   beside a CPU engine alike. One fewer beside a CPU engine left a 2-core machine's
 *   engine waiting for images: with the libjpeg-turbo decoder, 2 decode threads beside
 *   ONNX Runtime's 2 gave 15-19 % more images/s end to end (--decode fast) and 11-23 %
 *   more (exact) than 1, interleaved runs of bench/pipeline-ratio.ts (bench/RESULTS.md
 *   §15.7); idle decode threads cost nothing, and while both stages want the cores the
 *   scheduler shares them. Measured on 2 cores only.
 * - libvips: one thread per image inside a decode thread (the pool is the parallelism;
 *   libvips' default, a thread per core per image, would put cores x threads x images in
 *   flight on the same cores); every core when the main thread decodes alone.
 * Explicit --threads / --decode-threads are kept as given.
 */
export function threadPlan(o: { cores: number; engineThreads?: number; decodeThreads?: number }): ThreadPlan {
  const cores = Math.max(1, o.cores);
  const decodeThreads = o.decodeThreads ?? cores;
  return { engineThreads: o.engineThreads ?? cores, decodeThreads, libvipsThreads: decodeThreads > 0 ? 1 : cores };
}

/** threadPlan's decode threads for this machine. */
export function defaultDecodeThreads(cores: number = os.availableParallelism()): number {
  return threadPlan({ cores }).decodeThreads;
}

/**
 * Default `--prefetch-mb`: the images decoded ahead of the engine, counted as their
 * decoded full-size pixels while in flight and their model input once ready, stay under
 * this. One image bigger than the budget still runs, alone.
 */
export const DEFAULT_PREFETCH_MB = 512;
