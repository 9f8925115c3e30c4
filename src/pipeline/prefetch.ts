// The prefetch queue between the loader (decode pool) and the engine: images are
// started in input order as far ahead as a memory budget allows, and handed out in
// input order. Each image is charged its estimated peak (decoded full-size pixels +
// model input, budget.ts) from the moment it starts until it is decoded, then only its
// model input until the consumer takes it. An image that alone exceeds the budget
// starts when nothing else is charged, so huge files go through one at a time.
// `window` additionally caps how many images are started ahead (scheduling, not memory).
import { performance } from 'node:perf_hooks';
import { estimateImageBytes, modelInputBytes, readHeader } from './budget.js';
import type { DecodedItem, ImageSettings } from './decode-one.js';
import type { ImageLoader } from './loaders.js';
import type { InputEntry } from '../images/inputs.js';
import type { SourceInfo } from '../images/index.js';

export interface PrefetchOptions {
  settings: ImageSettings;
  budgetBytes: number;
  /** At most this many images started but not yet taken. */
  window: number;
}

export interface PrefetchStats {
  /** Largest sum of charges at any moment, bytes. */
  peakChargedBytes: number;
  /** Time the consumer waited for the next image, ms. */
  waitMs: number;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Yields one item per entry, in order. */
export async function* prefetch(entries: InputEntry[], loader: ImageLoader, o: PrefetchOptions, stats: PrefetchStats): AsyncGenerator<DecodedItem> {
  const n = entries.length;
  const results = entries.map(() => deferred<DecodedItem>());
  const charge = new Array<number>(n).fill(0);
  const inputBytes = modelInputBytes(o.settings);
  // Each image's header is read once, here; the decoder gets it with the entry.
  const headers = new Map<number, Promise<{ cost: number; header: SourceInfo | null }>>();
  let charged = 0;
  let started = 0;
  let taken = 0;
  let stopped = false;
  let changed = deferred<void>();
  const signal = () => changed.resolve();

  const costOf = (i: number): Promise<{ cost: number; header: SourceInfo | null }> => {
    let p = headers.get(i);
    if (!p) {
      const e = entries[i]!;
      p = e.error ? Promise.resolve({ cost: 0, header: null }) : readHeader(e.path).then((header) => ({ cost: estimateImageBytes(header, o.settings), header }));
      headers.set(i, p);
    }
    return p;
  };

  const setCharge = (i: number, bytes: number) => {
    charged += bytes - charge[i]!;
    charge[i] = bytes;
    if (charged > stats.peakChargedBytes) stats.peakChargedBytes = charged;
  };

  const pump = async () => {
    while (started < n && !stopped) {
      // Read the headers of the whole window ahead, so that admission does not wait on
      // them while the engine holds the main thread.
      for (let k = started; k < Math.min(n, taken + o.window + 1); k++) void costOf(k);
      const { cost, header } = await costOf(started);
      const fits = charged === 0 || charged + cost <= o.budgetBytes;
      if (started - taken >= o.window || !fits) {
        await changed.promise;
        changed = deferred<void>();
        continue;
      }
      const i = started++;
      headers.delete(i);
      setCharge(i, cost);
      void loader.load(header ? { ...entries[i]!, header } : entries[i]!).then((item) => {
        // Decoded: the full-size pixels are gone, the model input stays until taken.
        setCharge(i, item.input ? Math.min(cost, inputBytes) : 0);
        results[i]!.resolve(item);
        signal();
      });
    }
  };
  const pumping = pump();
  try {
    for (; taken < n; ) {
      const t0 = performance.now();
      const item = await results[taken]!.promise;
      stats.waitMs += performance.now() - t0;
      setCharge(taken, 0);
      taken += 1;
      signal();
      yield item;
    }
  } finally {
    stopped = true;
    signal();
    await pumping;
    // Let images still in flight (a consumer that stopped early) finish before the loader closes.
    await Promise.all(results.slice(taken, started).map((r) => r.promise));
  }
}
