// Runs a model over a list of images in batches, in input order. Decoding of the next
// batch (sharp, on libuv's threads) starts before the current batch is inferred, so
// the two overlap. A file that fails to decode becomes an error item; the rest of its
// batch still runs.
import { performance } from 'node:perf_hooks';
import { tf } from '../runtime/tf.js';
import { loadImageForModel, type LoadImageOptions } from '../images/index.js';
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import type { InputEntry } from './inputs.js';

export type ImageSettings = Omit<LoadImageOptions, 'cropPct' | 'keepExifOrientation'>;

export interface DecodedItem {
  path: string;
  input?: Float32Array;
  error?: string;
  timings?: { decodeMs: number; resizeMs: number; preprocessMs: number };
}

async function decodeOne(entry: InputEntry, settings: ImageSettings): Promise<DecodedItem> {
  if (entry.error) return { path: entry.path, error: entry.error };
  try {
    const img = await loadImageForModel(entry.path, settings);
    return { path: entry.path, input: img.input, timings: img.timings };
  } catch (e) {
    return { path: entry.path, error: errorMessage(e) };
  }
}

/** Yields decoded batches in order, decoding batch i+1 while batch i is consumed. */
export async function* decodedBatches(entries: InputEntry[], settings: ImageSettings, batchSize: number): AsyncGenerator<DecodedItem[]> {
  const decode = (start: number) => Promise.all(entries.slice(start, start + batchSize).map((e) => decodeOne(e, settings)));
  let next: Promise<DecodedItem[]> | null = entries.length > 0 ? decode(0) : null;
  for (let start = 0; next; start += batchSize) {
    const current = await next;
    next = start + batchSize < entries.length ? decode(start + batchSize) : null;
    yield current;
  }
}

export interface BatchStats {
  images: number;
  failed: number;
  inferenceMs: number;
}

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
): Promise<BatchStats> {
  const [h, w] = settings.size;
  const stats: BatchStats = { images: 0, failed: 0, inferenceMs: 0 };
  for await (const items of decodedBatches(entries, settings, batchSize)) {
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
  return stats;
}
