// Shared by the human-readable exporters (markdown, table): number formatting,
// one row per model × batch size and the "how it was measured" text (the columns
// are in columns.ts). A null value is printed as 'n/a': never a number that wasn't measured.
import type { BatchResult, BenchReport, BenchWarning, ModelResult } from '../result.js';
import { MAX_RUNS, MIN_RUNS, MIN_SECONDS } from '../result.js';

export const NA = 'n/a';
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** 3-ish significant digits without exponent: 1234 → "1234", 12.34 → "12.3", 1.234 → "1.23". */
export function formatNumber(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return NA;
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** Milliseconds, same precision rule as formatNumber. */
export function formatMs(ms: number | null | undefined): string {
  return formatNumber(ms);
}

/** Bytes as MiB, no unit suffix (the column header carries it). */
export function formatMiB(byte: number | null | undefined): string {
  if (byte === null || byte === undefined || !Number.isFinite(byte)) return NA;
  return (byte / MIB).toFixed(0);
}

/** Bytes with a unit: "512 B", "12.3 MiB", "15.6 GiB". */
export function formatBytes(byte: number | null | undefined): string {
  if (byte === null || byte === undefined || !Number.isFinite(byte)) return NA;
  if (byte >= GIB) return `${(byte / GIB).toFixed(1)} GiB`;
  if (byte >= MIB) return `${(byte / MIB).toFixed(1)} MiB`;
  if (byte >= 1024) return `${(byte / 1024).toFixed(1)} KiB`;
  return `${byte} B`;
}

/** One line of a results table: a measured batch size, or a failed model (run null). */
export interface BenchRow {
  model: ModelResult;
  /** Null for the row that reports a failure. */
  run: BatchResult | null;
}

/**
 * One row per model × batch size that ran, in report order; a failed model adds
 * one more row (run null) carrying its error, after any batch sizes that finished.
 */
export function benchRows(report: BenchReport): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const model of report.models) {
    for (const run of model.runs) rows.push({ model, run });
    if (model.status === 'failed' || model.runs.length === 0) rows.push({ model, run: null });
  }
  return rows;
}

/** img/s of the first model (report order) that ran each batch size: the ratio baseline. */
export function baselineImagesPerSecond(report: BenchReport): Map<number, number> {
  const base = new Map<number, number>();
  for (const m of report.models) {
    for (const r of m.runs) if (!base.has(r.batchSize)) base.set(r.batchSize, r.imagesPerSecond);
  }
  return base;
}

/** Highest img/s per batch size. */
export function fastestImagesPerSecond(report: BenchReport): Map<number, number> {
  const best = new Map<number, number>();
  for (const m of report.models) {
    for (const r of m.runs) best.set(r.batchSize, Math.max(best.get(r.batchSize) ?? -Infinity, r.imagesPerSecond));
  }
  return best;
}

/** "1.00×" for the baseline itself, "12.3× faster", "2.50× slower". */
export function formatRatio(imagesPerSec: number, baseline: number | undefined, isBaseline: boolean): string {
  if (isBaseline) return '1.00×';
  if (baseline === undefined || !(baseline > 0) || !(imagesPerSec > 0)) return NA;
  const r = imagesPerSec / baseline;
  if (Math.abs(r - 1) < 0.005) return '1.00×';
  return r > 1 ? `${formatNumber(r)}× faster` : `${formatNumber(1 / r)}× slower`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Every warning in the report with where it applies ("vgg16" or "vgg16, batch 8"). */
export function warningLines(report: BenchReport): { where: string; warning: BenchWarning }[] {
  const out: { where: string; warning: BenchWarning }[] = [];
  const randomWeightsTold = new Set<string>();
  // The precision is part of where when the report holds another than fp32 (bench --precisions).
  const precisions = report.models.some((m) => m.precision !== undefined && m.precision !== 'fp32');
  for (const m of report.models) {
    const where = `${m.backend ? `${m.model} on ${m.backend}` : m.model}${precisions && m.precision ? ` ${m.precision}` : ''}`;
    for (const w of m.warnings) {
      // Random weights are a fact about the model, not the backend: once per model.
      if (w.kind === 'random-weights') {
        if (randomWeightsTold.has(m.model)) continue;
        randomWeightsTold.add(m.model);
        out.push({ where: m.model, warning: w });
      } else out.push({ where, warning: w });
    }
    for (const r of m.runs) for (const w of r.warnings) out.push({ where: `${where}, batch ${r.batchSize}`, warning: w });
  }
  return out;
}

/** Machine and runtime, one line each. */
export function environmentLines(report: BenchReport): string[] {
  const m = report.machine;
  const cores = m.cores.physical === null ? plural(m.cores.logical, 'logical core') : `${m.cores.physical} physical / ${m.cores.logical} logical cores`;
  const os = `${m.os.distro} ${m.os.release} (${m.os.platform} ${m.os.kernel}, ${m.os.arch})`.replace(/\s+/g, ' ');
  const gpus =
    m.gpus.length > 0
      ? m.gpus
          .map((g) => `${g.name} (driver ${g.driver ?? NA}, ${formatBytes(g.memoryTotalByte)})`)
          .join('; ')
      : `none${m.gpusUnavailableReason ? ` (${m.gpusUnavailableReason})` : ''}`;
  const rt = report.runtime;
  // Labels such as "onnx (onnxruntime-node 1.30.0, …)" already carry the version.
  const backend = rt.backendVersion && !rt.backend.includes(rt.backendVersion) ? `${rt.backend} ${rt.backendVersion}` : rt.backend;
  return [
    `Machine: ${m.cpuModel}, ${cores}, ${formatBytes(m.ramTotalByte)} RAM, ${os}`,
    `GPUs: ${gpus}`,
    // Backend labels such as "onnx (…, 2 threads)" already say the threads.
    `Runtime: Node ${rt.node}, TensorFlow.js ${rt.tfjs}, backend ${backend}` +
      (/\bthreads?\b/.test(backend) ? '' : `, ${rt.threads === null ? `threads ${NA}` : plural(rt.threads, 'thread')}`),
    `Command: ${report.command.join(' ')}`,
    `Date: ${report.createdAt}`,
  ];
}

/** How the numbers were obtained, as sentences. */
export function methodLines(report: BenchReport): string[] {
  const s = report.settings;
  const budget =
    s.iterations !== undefined && s.durationS !== undefined
      ? `${plural(s.iterations, 'timed run')} (or ${s.durationS} s) per batch size`
      : s.iterations !== undefined
        ? `${plural(s.iterations, 'timed run')} per batch size`
        : s.durationS !== undefined
          ? `timed runs for ${s.durationS} s per batch size`
          : `at least ${MIN_RUNS} timed runs and ${MIN_SECONDS} s per batch size (at most ${MAX_RUNS} runs; the runs column has the count)`;
  return [
    `Batch sizes ${s.batchSizes.join(', ')}; weights ${s.weights}; ${budget}.`,
    `Warm-up excluded: the first inference and ${plural(s.warmupRuns, 'warm-up run')} per batch size are not in the statistics.`,
    'Latency is the wall time of one batch; percentiles interpolate linearly between closest ranks (numpy default).',
    'img/s = batch size × runs / timed seconds; GFLOP/s = 2 × MACs per image × img/s / 1e9.',
    'CPU % = process CPU time / wall time (100 = one core busy). Peak RSS: the largest sample (the parent reads the child\'s /proc every 50 ms; a lower bound).',
    `GPU memory is this process's peak from nvidia-smi, polled every ${s.gpuPollMs} ms. n/a = not measured.`,
  ];
}
