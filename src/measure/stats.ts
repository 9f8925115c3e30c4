// Summary statistics over raw latency samples (milliseconds).
//
// Percentiles use linear interpolation between the closest ranks, i.e. numpy's
// default `np.percentile(xs, p, method='linear')` (Hyndman & Fan type 7, also R's
// default and Excel's PERCENTILE.INC):
//
//   rank = p / 100 * (n - 1)            (0-based, on the ascending-sorted samples)
//   lo = floor(rank), hi = ceil(rank)
//   value = xs[lo] + (rank - lo) * (xs[hi] - xs[lo])
//
// So for [1..10], p50 = 5.5 and p90 = 9.1; p0 is the min and p100 the max, and a
// single sample is every percentile. The raw samples stay in the report
// (`samplesMs`), so any other definition can be recomputed from the JSON later,
// the way hyperfine's scripts/advanced_statistics.py does from `times`.

/** Summary of a non-empty sample. Same unit as the input (milliseconds in the bench). */
export interface LatencySummary {
  /** Number of samples. */
  count: number;
  min: number;
  max: number;
  /** Arithmetic mean. */
  mean: number;
  /** Sample standard deviation (Bessel-corrected, divides by n - 1); 0 for a single sample. */
  std: number;
  /** Median; always equal to p50. */
  median: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
}

function assertSamples(xs: readonly number[]): void {
  if (xs.length === 0) throw new Error('Cannot summarize an empty sample: no measurements were recorded.');
  for (const x of xs) {
    if (!Number.isFinite(x)) throw new Error(`Cannot summarize a sample containing a non-finite value. Received: ${x}`);
  }
}

/** Ascending copy; never mutates the input. */
export function sortedCopy(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/**
 * The p-th percentile (0..100) of an ascending-sorted, non-empty array, with linear
 * interpolation between closest ranks (numpy 'linear'; see the file header).
 */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('Cannot take a percentile of an empty sample.');
  if (!(p >= 0 && p <= 100)) throw new Error(`Percentile must be within [0, 100]. Received: p=${p}`);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (rank - lo) * (b - a);
}

/** The p-th percentile (0..100) of an unsorted sample (copied, not mutated). */
export function percentile(xs: readonly number[], p: number): number {
  assertSamples(xs);
  return percentileSorted(sortedCopy(xs), p);
}

/** Median (= p50 with linear interpolation). */
export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** count/min/max/mean/sample-std/median/p50/p90/p95/p99 of a non-empty sample. Throws on empty. */
export function summarize(samplesMs: readonly number[]): LatencySummary {
  assertSamples(samplesMs);
  const sorted = sortedCopy(samplesMs);
  const n = sorted.length;
  let sum = 0;
  for (const x of sorted) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of sorted) ss += (x - mean) ** 2;
  const std = n > 1 ? Math.sqrt(ss / (n - 1)) : 0;
  const p50 = percentileSorted(sorted, 50);
  return {
    count: n,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    mean,
    std,
    median: p50,
    p50,
    p90: percentileSorted(sorted, 90),
    p95: percentileSorted(sorted, 95),
    p99: percentileSorted(sorted, 99),
  };
}
