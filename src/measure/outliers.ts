// Statistical outlier detection on latency samples: the modified z-score on the
// median absolute deviation (MAD), as in hyperfine's src/outlier_detection.rs
// (sharkdp/hyperfine, https://github.com/sharkdp/hyperfine/blob/master/src/outlier_detection.rs).
//
// References:
// - Boris Iglewicz and David Hoaglin (1993), "Volume 16: How to Detect and Handle
//   Outliers", The ASQC Basic References in Quality Control: Statistical Techniques.
// - https://en.wikipedia.org/wiki/Median_absolute_deviation

import { median } from './stats.js';

/**
 * Minimum |modified z-score| for a sample to count as an outlier. Same value as
 * hyperfine's `OUTLIER_THRESHOLD: f64 = 1.4826 * 10.0`: 1.4826 converts the MAD
 * into an estimator of the standard deviation (for normal data), and 10 is the
 * number of standard deviations. Deliberately loose: only flags gross disturbances
 * (GC pauses, another program stealing the CPU), not ordinary jitter.
 */
export const OUTLIER_THRESHOLD = 1.4826 * 10.0;

/**
 * Modified z-scores `(x_i - median) / MAD`, one per input (same order).
 * When the MAD is 0 (more than half the samples identical) it is replaced by
 * Number.EPSILON, like hyperfine, so any differing sample scores huge.
 * Throws on an empty sample.
 */
export function modifiedZScores(xs: readonly number[]): number[] {
  if (xs.length === 0) throw new Error('Cannot compute modified z-scores of an empty sample.');
  const m = median(xs);
  const mad0 = median(xs.map((x) => Math.abs(x - m)));
  const mad = mad0 > 0 ? mad0 : Number.EPSILON;
  return xs.map((x) => (x - m) / mad);
}

/** Number of samples whose |modified z-score| exceeds OUTLIER_THRESHOLD (0 for an empty sample). */
export function countOutliers(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  return modifiedZScores(xs).filter((s) => Math.abs(s) > OUTLIER_THRESHOLD).length;
}

/** True when at least one sample is a statistical outlier. */
export function hasOutliers(xs: readonly number[]): boolean {
  return countOutliers(xs) > 0;
}
