// Bench warnings (after hyperfine's output/warnings.rs): the data in BenchWarning (each
// member's comment is its row in bench/SCHEMA.md), the text in warningMessage, and the
// rules that raise them in detectWarnings.
import type { CpuUsage } from '../monitor/process.js';
import { countOutliers, modifiedZScores, OUTLIER_THRESHOLD } from './outliers.js';
import { median } from './stats.js';

/** Fewer timed runs than this per batch size triggers a 'few-samples' warning. */
export const MIN_RELIABLE_SAMPLES = 10;

/** Other programs using more than this share of the machine's CPU (percent points) triggers 'busy-system'. */
export const BUSY_SYSTEM_OTHER_PERCENT = 25;

export type BenchWarning =
  /** Raised when some timed run is an outlier (and the first is not); hint: close other programs, use more `--iterations`/`--warmup`. */
  | { kind: 'statistical-outliers'; outlierCount: number; sampleCount: number; warmupRuns: number }
  /** Raised when the first timed run is a slow outlier; hint: more `--warmup` runs. */
  | { kind: 'slow-first-run'; firstRunMs: number; medianMs: number; warmupRuns: number }
  /** Raised when fewer than 10 timed runs (`MIN_RELIABLE_SAMPLES`); hint: more `--iterations` or a longer `--duration`. */
  | { kind: 'few-samples'; sampleCount: number; recommendedMin: number }
  /** Raised when the model ran untrained; hint: `--weights imagenet`. */
  | { kind: 'random-weights'; model: string }
  /** Raised when a GPU backend ran but nvidia-smi gave nothing; hint: put nvidia-smi on PATH. */
  | { kind: 'gpu-not-measured'; reason: string }
  /** Raised when other programs used > 25 % of the machine's CPU (`BUSY_SYSTEM_OTHER_PERCENT`); hint: close them and re-run. */
  | { kind: 'busy-system'; otherPercent: number };

export type BenchWarningKind = BenchWarning['kind'];

function fmt(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** The warning as a sentence that says what to do about it. */
export function warningMessage(w: BenchWarning): string {
  switch (w.kind) {
    case 'statistical-outliers':
      return (
        `Statistical outliers were detected (${w.outlierCount} of ${w.sampleCount} runs); ` +
        'close other programs and re-run on a quiet system, or use more --iterations/--warmup.'
      );
    case 'slow-first-run':
      return (
        `The first timed run was much slower than the rest (${fmt(w.firstRunMs)} ms vs median ${fmt(w.medianMs)} ms): ` +
        `caches or kernels were not warm after ${w.warmupRuns} warm-up run${w.warmupRuns === 1 ? '' : 's'}; ` +
        `use more, e.g. --warmup ${Math.max(3, w.warmupRuns * 2)}.`
      );
    case 'few-samples':
      return (
        `Only ${w.sampleCount} timed run${w.sampleCount === 1 ? '' : 's'}: p90/p99 are unreliable; ` +
        `use --iterations ${w.recommendedMin} or more, or a longer --duration.`
      );
    case 'random-weights':
      return (
        `${w.model} ran with random weights: timings are valid but its predictions are meaningless; ` +
        'use --weights imagenet for pretrained weights.'
      );
    case 'gpu-not-measured':
      return `GPU memory and utilisation were not measured (${w.reason}), shown as n/a; put nvidia-smi on PATH to measure them.`;
    case 'busy-system':
      return (
        `Other programs used about ${w.otherPercent.toFixed(0)}% of the machine's CPU during the timed runs; ` +
        'close them and re-run for stable numbers.'
      );
    default: {
      const never: never = w;
      throw new Error(`Unknown bench warning: ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Warnings about a sample of timed runs, with hyperfine's rule: a first run that is
 * an outlier on the slow side is 'slow-first-run', otherwise any outlier is
 * 'statistical-outliers'; plus 'few-samples' below MIN_RELIABLE_SAMPLES, and
 * 'busy-system' when the machine was much busier than this process explains.
 */
export function detectWarnings(input: {
  samplesMs: readonly number[];
  warmupRuns: number;
  cpu?: Pick<CpuUsage, 'processPercentOfOneCore' | 'cores' | 'systemPercent'>;
}): BenchWarning[] {
  const { samplesMs, warmupRuns, cpu } = input;
  const out: BenchWarning[] = [];
  if (samplesMs.length > 0) {
    const scores = modifiedZScores(samplesMs);
    if (scores[0]! > OUTLIER_THRESHOLD) {
      out.push({ kind: 'slow-first-run', firstRunMs: samplesMs[0]!, medianMs: median(samplesMs), warmupRuns });
    } else {
      const n = countOutliers(samplesMs);
      if (n > 0) out.push({ kind: 'statistical-outliers', outlierCount: n, sampleCount: samplesMs.length, warmupRuns });
    }
  }
  if (samplesMs.length < MIN_RELIABLE_SAMPLES) {
    out.push({ kind: 'few-samples', sampleCount: samplesMs.length, recommendedMin: MIN_RELIABLE_SAMPLES });
  }
  if (cpu && cpu.systemPercent !== null && cpu.cores > 0) {
    const oursOfMachine = Math.min(100, cpu.processPercentOfOneCore / cpu.cores);
    const other = cpu.systemPercent - oursOfMachine;
    if (other > BUSY_SYSTEM_OTHER_PERCENT) out.push({ kind: 'busy-system', otherPercent: other });
  }
  return out;
}
