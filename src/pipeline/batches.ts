// Runs a model over a list of images in batches, in input order. Images are decoded,
// resized and preprocessed ahead of the engine by a loader (the decode pool, or this
// thread) through the prefetch queue, whose memory budget bounds what is held ahead;
// the engine takes them in order. A file that fails to decode becomes an error item;
// the rest of its batch still runs.
import { performance } from 'node:perf_hooks';
import { tf } from '../tf.js';
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import { ThreadCpuMeter } from '../monitor/threads.js';
import type { InputEntry } from '../images/inputs.js';
import type { DecodedItem, ImageSettings } from './decode-one.js';
import { inThreadLoader, type ImageLoader } from './loaders.js';
import { prefetch, type PrefetchStats } from './prefetch.js';
import { DEFAULT_PREFETCH_MB } from './decode-threads.js';

export type { DecodedItem, ImageSettings } from './decode-one.js';

export interface BatchStats {
  images: number;
  failed: number;
  inferenceMs: number;
}

/** What the overlapped pipeline did: filled in while it runs (live progress), final at the end. */
export interface PipelineStats extends BatchStats {
  /** Sums over the decoded images of each stage's wall time (inside the decode threads), ms. */
  decodeMs: number;
  resizeMs: number;
  preprocessMs: number;
  /** Images with stage timings (decoded successfully). */
  decoded: number;
  /** CPU time of resize + preprocess in the decode threads, summed over the images that measured it, ms (Linux). */
  preprocessCpuMs: number;
  /** Images whose preprocess CPU time was measured. */
  preprocessCpuImages: number;
  /** Batches the engine has run (0: no inference measured yet). */
  batches: number;
  /** Time the engine waited for images, ms. */
  waitMs: number;
  /** Wall time since the run started, ms. */
  wallMs: number;
  /** Decode threads (0 = this thread). */
  decodeThreads: number;
  /** CPU time of the decode threads and of libvips' own threads, ms; null when not measurable (not Linux). */
  poolCpuMs: number | null;
  /** Largest memory charged to the prefetch queue at once, bytes (an estimate from the headers). */
  peakPrefetchBytes: number;
  prefetchBudgetBytes: number;
}

export function emptyPipelineStats(): PipelineStats {
  return { images: 0, failed: 0, inferenceMs: 0, decodeMs: 0, resizeMs: 0, preprocessMs: 0, decoded: 0, preprocessCpuMs: 0, preprocessCpuImages: 0, batches: 0, waitMs: 0, wallMs: 0, decodeThreads: 0, poolCpuMs: null, peakPrefetchBytes: 0, prefetchBudgetBytes: 0 };
}

export interface PipelineOptions {
  /** Where images are decoded; default: this thread. The caller closes it. */
  loader?: ImageLoader;
  /** Prefetch memory budget in bytes; default DEFAULT_PREFETCH_MB. */
  prefetchBytes?: number;
  /** Updated as the run goes (for progress). */
  stats?: PipelineStats;
}

/** libvips' own threads (named by glib), which do sharp's decoding. */
const isLibvipsThread = (name: string) => /^(lib)?vips/i.test(name);

/**
 * For each batch: stacks the decoded images into one [n, h, w, 3] tensor, hands it to
 * `compute` (which returns one result per row, as plain data), and calls `emit` for
 * every item in input order, with its result or its error. Tensors are freed per batch.
 */
export async function runBatches<R>(
  entries: InputEntry[],
  settings: ImageSettings,
  batchSize: number,
  compute: (batch: tf.Tensor4D) => Promise<R[]>,
  emit: (item: DecodedItem, result: R | undefined) => Promise<void> | void,
  pipeline: PipelineOptions = {},
): Promise<PipelineStats> {
  const [h, w] = settings.size;
  const stats = pipeline.stats ?? emptyPipelineStats();
  const loader = pipeline.loader ?? inThreadLoader(settings);
  const budget = pipeline.prefetchBytes ?? DEFAULT_PREFETCH_MB * 1024 * 1024;
  stats.decodeThreads = loader.threads;
  stats.prefetchBudgetBytes = budget;
  const decodeThreadIds = new Set(loader.threadIds());
  const cpu = new ThreadCpuMeter((tid, name) => decodeThreadIds.has(tid) || isLibvipsThread(name)).start();
  const started = performance.now();
  // Two batches ahead keep the engine fed while the next one is decoded; more only costs memory.
  const window = Math.max(2 * batchSize, 2 * loader.threads, 4);
  const queue: PrefetchStats = { peakChargedBytes: 0, waitMs: 0 };
  const items = prefetch(entries, loader, { settings, budgetBytes: budget, window }, queue);
  const update = () => {
    stats.waitMs = queue.waitMs;
    stats.peakPrefetchBytes = queue.peakChargedBytes;
    stats.wallMs = performance.now() - started;
    stats.poolCpuMs = cpu.elapsedMs();
  };
  try {
    let done = false;
    while (!done) {
      const batch: DecodedItem[] = [];
      while (batch.length < batchSize) {
        const next = await items.next();
        if (next.done) {
          done = true;
          break;
        }
        const item = next.value;
        if (item.timings) {
          stats.decoded += 1;
          stats.decodeMs += item.timings.decodeMs;
          stats.resizeMs += item.timings.resizeMs;
          stats.preprocessMs += item.timings.preprocessMs;
          if (item.timings.preprocessCpuMs !== undefined) {
            stats.preprocessCpuMs += item.timings.preprocessCpuMs;
            stats.preprocessCpuImages += 1;
          }
        }
        batch.push(item);
      }
      if (batch.length > 0) await runOne(batch);
      update();
    }
  } finally {
    await items.return(undefined);
    stats.poolCpuMs = cpu.stop();
    update();
  }
  return stats;

  async function runOne(items: DecodedItem[]): Promise<void> {
    const ok = items.filter((i) => i.input);
    let results: R[] = [];
    if (ok.length > 0) {
      const data = new Float32Array(ok.length * h * w * 3);
      ok.forEach((item, i) => data.set(item.input!, i * h * w * 3));
      const batch = tf.tensor4d(data, [ok.length, h, w, 3]);
      const t0 = performance.now();
      try {
        results = await compute(batch);
      } catch (e) {
        // A model error on this batch fails its images, not the run.
        const message = `inference failed: ${errorMessage(e)}`;
        log.debug(e instanceof Error && e.stack ? e.stack : String(e));
        for (const item of ok) item.error = message;
        results = [];
      } finally {
        batch.dispose();
      }
      stats.inferenceMs += performance.now() - t0;
      stats.batches += 1;
    }
    // results[i] belongs to ok[i]; a failed batch left every ok item with an error.
    const resultOf = new Map(ok.map((item, i) => [item, item.error ? undefined : results[i]]));
    for (const item of items) {
      const result = resultOf.get(item);
      item.input = undefined; // release pixels early
      stats.images += 1;
      if (result === undefined) stats.failed += 1;
      await emit(item, result);
    }
  }
}

