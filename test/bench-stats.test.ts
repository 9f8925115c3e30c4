import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countOutliers, hasOutliers, modifiedZScores, OUTLIER_THRESHOLD } from '../src/measure/outliers.js';
import { BENCH_SCHEMA_VERSION } from '../src/measure/result.js';
import { detectWarnings, MIN_RELIABLE_SAMPLES, warningMessage, type BenchWarning } from '../src/measure/warnings.js';
import { gflopsPerSecond, imagesPerSecond } from '../src/measure/metrics.js';
import { median, percentile, summarize } from '../src/measure/stats.js';

const close = (actual: number, expected: number, eps = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

describe('summarize', () => {
  test('1..10 by hand (numpy linear percentiles, sample std)', () => {
    const s = summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(s.count, 10);
    assert.equal(s.min, 1);
    assert.equal(s.max, 10);
    close(s.mean, 5.5);
    close(s.std, Math.sqrt(82.5 / 9)); // Σ(x-5.5)² = 82.5, n-1 = 9 → 3.0276503540974917
    close(s.median, 5.5);
    close(s.p50, 5.5);
    close(s.p90, 9.1); // rank 0.9·9 = 8.1 → 9 + 0.1·(10-9)
    close(s.p95, 9.55); // rank 8.55
    close(s.p99, 9.91); // rank 8.91
  });

  test('interpolates between uneven values (np.percentile([15,20,35,40,50], q))', () => {
    const xs = [15, 20, 35, 40, 50];
    close(percentile(xs, 40), 29); // rank 1.6 → 20 + 0.6·15
    close(percentile(xs, 90), 46); // rank 3.6 → 40 + 0.6·10
    close(percentile(xs, 0), 15);
    close(percentile(xs, 100), 50);
    close(median(xs), 35);
  });

  test('a single sample is every statistic, std 0', () => {
    const s = summarize([7.25]);
    assert.deepEqual(s, { count: 1, min: 7.25, max: 7.25, mean: 7.25, std: 0, median: 7.25, p50: 7.25, p90: 7.25, p95: 7.25, p99: 7.25 });
  });

  test('unsorted input gives the same result and is not mutated', () => {
    const xs = [10, 3, 7, 1, 9, 2, 8, 4, 6, 5];
    const copy = [...xs];
    const s = summarize(xs);
    assert.deepEqual(xs, copy);
    close(s.p90, 9.1);
    close(s.p50, 5.5);
    percentile(xs, 50);
    assert.deepEqual(xs, copy);
  });

  test('empty or non-finite input throws', () => {
    assert.throws(() => summarize([]), /empty/);
    assert.throws(() => summarize([1, Number.NaN]), /non-finite/);
    assert.throws(() => percentile([1, 2], 101), /within \[0, 100\]/);
  });
});

// Ported from hyperfine's src/outlier_detection.rs tests.
describe('outliers (modified z-score on the MAD)', () => {
  test('threshold is hyperfine\'s 1.4826 · 10', () => {
    close(OUTLIER_THRESHOLD, 14.826);
  });

  test('no outliers in small or low-variance samples', () => {
    assert.equal(countOutliers([]), 0);
    assert.equal(countOutliers([50]), 0);
    assert.equal(countOutliers([1000, 0]), 0);
    assert.equal(countOutliers([-0.2, 0.0, 0.2]), 0);
    assert.equal(hasOutliers([-0.2, 0.0, 0.2]), false);
  });

  test('detects single outliers', () => {
    assert.equal(countOutliers([-0.2, 0.0, 0.2, 4.0]), 1);
    assert.equal(countOutliers([0.5, 0.3, 0.29, 0.31, 0.3]), 1);
    assert.equal(hasOutliers([0.5, 0.3, 0.29, 0.31, 0.3]), true);
  });

  test('normal sample: none; with two added outliers: two', () => {
    const xs = [2.33269488, 1.42195907, -0.57527698, -0.31293437, 2.2948158, 0.75813273, -1.0712388, -0.96394741, -1.15897446, 1.10976285];
    assert.equal(countOutliers(xs), 0);
    assert.equal(countOutliers([...xs, 20.0, -500.0]), 2);
  });

  test('MAD of 0 is replaced by epsilon', () => {
    assert.equal(countOutliers([10, 10, 10, 10, 10, 10, 10, 100]), 1);
    assert.equal(countOutliers([10, 10, 10, 10, 10, 10, 10, 100, 100]), 2);
  });

  test('scores keep input order: (x - median) / MAD', () => {
    // median 3, |dev| = [2,1,0,1,2] → MAD 1
    assert.deepEqual(modifiedZScores([1, 2, 3, 4, 5]), [-2, -1, 0, 1, 2]);
    assert.throws(() => modifiedZScores([]), /empty/);
  });
});

describe('warnings', () => {
  const steady = Array.from({ length: 30 }, (_, i) => 100 + (i % 5));

  test('a slow first timed run is slow-first-run (hyperfine rule), not statistical-outliers', () => {
    const w = detectWarnings({ samplesMs: [5000, ...steady], warmupRuns: 1 });
    assert.deepEqual(w.map((x) => x.kind), ['slow-first-run']);
    assert.match(warningMessage(w[0]!), /--warmup 3/);
  });

  test('an outlier later is statistical-outliers, with the hint', () => {
    const w = detectWarnings({ samplesMs: [...steady, 5000], warmupRuns: 3 });
    assert.deepEqual(w, [{ kind: 'statistical-outliers', outlierCount: 1, sampleCount: 31, warmupRuns: 3 }]);
    assert.match(warningMessage(w[0]!), /Statistical outliers were detected.*close other programs.*--iterations\/--warmup/);
  });

  test('few samples, and a busy machine', () => {
    const w = detectWarnings({
      samplesMs: [100, 101, 102],
      warmupRuns: 3,
      cpu: { processPercentOfOneCore: 50, cores: 2, systemPercent: 90 }, // ours 25 % of machine, others 65
    });
    assert.deepEqual(w.map((x) => x.kind), ['few-samples', 'busy-system']);
    assert.match(warningMessage(w[0]!), new RegExp(`--iterations ${MIN_RELIABLE_SAMPLES}`));
    assert.deepEqual(detectWarnings({ samplesMs: steady, warmupRuns: 3, cpu: { processPercentOfOneCore: 190, cores: 2, systemPercent: 99 } }), []);
  });

  test('every kind has a message that suggests something', () => {
    const all: BenchWarning[] = [
      { kind: 'statistical-outliers', outlierCount: 2, sampleCount: 50, warmupRuns: 3 },
      { kind: 'slow-first-run', firstRunMs: 900, medianMs: 100, warmupRuns: 0 },
      { kind: 'few-samples', sampleCount: 1, recommendedMin: 10 },
      { kind: 'random-weights', model: 'vgg16' },
      { kind: 'gpu-not-measured', reason: 'nvidia-smi not found' },
      { kind: 'busy-system', otherPercent: 40 },
    ];
    for (const w of all) assert.match(warningMessage(w), /use|close|put/i, w.kind);
  });
});

describe('derived fields', () => {
  test('images per second and GFLOP/s', () => {
    close(imagesPerSecond(8, [100, 300]), 40); // 16 images in 0.4 s
    close(gflopsPerSecond(1e9, 40)!, 80);
    assert.equal(gflopsPerSecond(null, 40), null);
    assert.throws(() => imagesPerSecond(1, []), /positive timed runs/);
    assert.equal(BENCH_SCHEMA_VERSION, 1);
  });
});
