// THE column table of the bench exports: every per-row figure once, with its csv name
// and raw value and, for the tables people read (markdown, terminal), its header and
// how it is printed. csv.ts, markdown.ts and table.ts all read it, so a new metric is
// one row here (+ its field in result.ts and the code that measures it).
import type { BatchResult, BenchReport, ModelResult } from '../result.js';
import { formatMiB, formatMs, formatNumber, NA } from './format.js';

export type Cell = string | number | null | undefined;

export interface BenchColumn {
  /** The csv header: snake_case, unit in the name. */
  csv: string;
  /** The raw value (csv prints it unformatted); run is null on a failed model's row, where only model-level columns have one. */
  value: (m: ModelResult, r: BatchResult | null) => Cell;
  /** Present for the columns of the markdown and terminal tables. */
  shown?: {
    header: string;
    align: 'left' | 'right';
    /** The value as text (default: as is; n/a when missing). */
    format?: (v: Cell) => string;
    /** Says what ran (model, backend, …): printed on a failed model's markdown row too. */
    identity?: boolean;
    /** Shown only for reports where this holds (default: always). */
    when?: (report: BenchReport) => boolean;
  };
}

const plain = (v: Cell): string => (v === null || v === undefined ? NA : String(v));
const num = (v: Cell) => formatNumber(typeof v === 'number' ? v : null);
const ms = (v: Cell) => formatMs(typeof v === 'number' ? v : null);
const mib = (v: Cell) => formatMiB(typeof v === 'number' ? v : null);
const left = (header: string, more: Partial<NonNullable<BenchColumn['shown']>> = {}) => ({ header, align: 'left' as const, ...more });
const right = (header: string, format: (v: Cell) => string = plain) => ({ header, align: 'right' as const, format });

const withImages = (report: BenchReport) => report.models.some((m) => m.runs.some((r) => r.endToEnd));

/** In csv order. */
export const BENCH_COLUMNS: readonly BenchColumn[] = [
  { csv: 'model', value: (m) => m.model, shown: left('model', { identity: true }) },
  { csv: 'backend', value: (m) => m.backend, shown: left('backend', { identity: true }) },
  { csv: 'device', value: (m) => m.device, shown: left('device', { identity: true }) },
  { csv: 'provider', value: (m) => m.provider, shown: left('provider', { identity: true }) },
  { csv: 'adapter', value: (m) => m.adapter },
  // fp32-only reports keep their shape: the column appears when a model ran at another precision.
  { csv: 'precision', value: (m) => m.precision, shown: left('precision', { identity: true, when: (report) => report.models.some((m) => m.precision !== undefined && m.precision !== 'fp32') }) },
  { csv: 'status', value: (_, r) => (r ? 'ok' : 'failed') },
  { csv: 'weights', value: (m) => m.weights, shown: left('weights', { identity: true }) },
  { csv: 'parameters', value: (m) => m.parameters },
  { csv: 'macs_per_image', value: (m) => m.macsPerImage },
  { csv: 'load_ms', value: (m) => m.loadMs, shown: right('load ms', ms) },
  { csv: 'rss_after_load_byte', value: (m) => m.rssAfterLoadByte },
  { csv: 'batch_size', value: (_, r) => r?.batchSize, shown: right('batch') },
  { csv: 'warmup_runs', value: (_, r) => r?.warmupRuns },
  { csv: 'first_inference_ms', value: (_, r) => r?.firstInferenceMs, shown: right('first inference ms', ms) },
  { csv: 'runs', value: (_, r) => r?.latencyMs.count, shown: right('runs') },
  { csv: 'mean_ms', value: (_, r) => r?.latencyMs.mean },
  { csv: 'std_ms', value: (_, r) => r?.latencyMs.std },
  { csv: 'min_ms', value: (_, r) => r?.latencyMs.min },
  { csv: 'p50_ms', value: (_, r) => r?.latencyMs.p50, shown: right('p50 ms', ms) },
  { csv: 'p90_ms', value: (_, r) => r?.latencyMs.p90, shown: right('p90 ms', ms) },
  { csv: 'p95_ms', value: (_, r) => r?.latencyMs.p95 },
  { csv: 'p99_ms', value: (_, r) => r?.latencyMs.p99, shown: right('p99 ms', ms) },
  { csv: 'max_ms', value: (_, r) => r?.latencyMs.max },
  { csv: 'images_per_second', value: (_, r) => r?.imagesPerSecond, shown: right('img/s', num) },
  { csv: 'gflops_per_second', value: (_, r) => r?.gflopsPerSecond, shown: right('GFLOP/s', num) },
  { csv: 'cpu_process_percent_of_one_core', value: (_, r) => r?.cpu.processPercentOfOneCore, shown: right('CPU %', num) },
  { csv: 'cpu_cores', value: (_, r) => r?.cpu.cores },
  { csv: 'cpu_system_percent', value: (_, r) => r?.cpu.systemPercent },
  { csv: 'rss_peak_sampled_byte', value: (_, r) => r?.memory.rssPeakSampledByte, shown: right('peak RSS MiB', mib) },
  { csv: 'max_rss_byte', value: (_, r) => r?.memory.maxRssByte },
  { csv: 'tf_bytes', value: (_, r) => r?.memory.tfBytes },
  { csv: 'tf_tensors', value: (_, r) => r?.memory.tfTensors },
  { csv: 'gpu_process_memory_peak_byte', value: (_, r) => r?.gpu?.processMemoryPeakByte, shown: right('GPU mem MiB', mib) },
  { csv: 'gpu_device_memory_used_peak_byte', value: (_, r) => r?.gpu?.deviceMemoryUsedPeakByte },
  { csv: 'gpu_utilization_mean_percent', value: (_, r) => r?.gpu?.utilizationMeanPercent },
  // bench --images: the pipeline end to end (EndToEndResult), beside the model-only figures.
  { csv: 'end_to_end_decode', value: (_, r) => r?.endToEnd?.decode, shown: left('decode', { when: withImages }) },
  { csv: 'end_to_end_decode_threads', value: (_, r) => r?.endToEnd?.decodeThreads },
  { csv: 'end_to_end_images', value: (_, r) => r?.endToEnd?.images },
  { csv: 'end_to_end_failed', value: (_, r) => r?.endToEnd?.failed, shown: { ...right('failed files'), when: withImages } },
  { csv: 'end_to_end_images_per_second', value: (_, r) => r?.endToEnd?.imagesPerSecond, shown: { ...right('e2e img/s', num), when: withImages } },
  { csv: 'end_to_end_percent_of_model', value: (_, r) => r?.endToEnd?.percentOfModel, shown: { ...right('e2e % of model', num), when: withImages } },
  { csv: 'end_to_end_decode_ms', value: (_, r) => r?.endToEnd?.decodeMsPerImage },
  { csv: 'end_to_end_decode_cpu_ms', value: (_, r) => r?.endToEnd?.decodeCpuMsPerImage, shown: { ...right('decode CPU ms', ms), when: withImages } },
  { csv: 'end_to_end_preprocess_ms', value: (_, r) => r?.endToEnd?.preprocessMsPerImage },
  { csv: 'end_to_end_preprocess_cpu_ms', value: (_, r) => r?.endToEnd?.preprocessCpuMsPerImage },
  { csv: 'end_to_end_model_cpu_ms', value: (_, r) => r?.endToEnd?.modelCpuMsPerImage, shown: { ...right('model CPU ms', ms), when: withImages } },
  { csv: 'end_to_end_inference_ms', value: (_, r) => r?.endToEnd?.inferenceMsPerImage },
  { csv: 'end_to_end_engine_wait_percent', value: (_, r) => r?.endToEnd?.engineWaitPercent },
  { csv: 'end_to_end_pool_cpu_percent_of_one_core', value: (_, r) => r?.endToEnd?.poolCpuPercentOfOneCore },
  { csv: 'end_to_end_process_cpu_percent_of_one_core', value: (_, r) => r?.endToEnd?.processCpuPercentOfOneCore },
  { csv: 'end_to_end_limiting_stage', value: (_, r) => r?.endToEnd?.limitingStage },
  { csv: 'overlap_limit_images_per_second', value: (_, r) => r?.endToEnd?.overlapLimitImagesPerSecond, shown: { ...right('overlap limit img/s', num), when: withImages } },
  { csv: 'end_to_end_percent_of_overlap_limit', value: (_, r) => r?.endToEnd?.percentOfOverlapLimit, shown: { ...right('e2e % of limit', num), when: withImages } },
  { csv: 'warnings', value: (m, r) => [...m.warnings, ...(r?.warnings ?? [])].map((w) => w.kind).join(';') },
  { csv: 'error', value: (m, r) => (r ? '' : (m.error ?? '')) },
];

/** The order of the shown columns in the markdown and terminal tables (csv names). */
const SHOWN_ORDER = [
  'model', 'backend', 'precision', 'device', 'provider', 'batch_size', 'weights', 'runs', 'load_ms', 'first_inference_ms',
  'p50_ms', 'p90_ms', 'p99_ms', 'images_per_second', 'gflops_per_second', 'cpu_process_percent_of_one_core',
  'rss_peak_sampled_byte', 'gpu_process_memory_peak_byte',
  'end_to_end_decode', 'end_to_end_failed', 'end_to_end_images_per_second', 'end_to_end_percent_of_model', 'end_to_end_decode_cpu_ms',
  'end_to_end_model_cpu_ms', 'overlap_limit_images_per_second', 'end_to_end_percent_of_overlap_limit',
] as const;

/** A column of a table people read. */
export interface Column {
  header: string;
  align: 'left' | 'right';
  /** Cell text for a measured row. */
  cell: (m: ModelResult, r: BatchResult) => string;
  /** Cell text on a failed model's row; absent: not known there. */
  failedCell?: (m: ModelResult) => string;
}

function shownColumn(c: BenchColumn): Column {
  const { header, align, format = plain, identity } = c.shown!;
  return {
    header,
    align,
    cell: (m, r) => format(c.value(m, r)),
    ...(identity ? { failedCell: (m: ModelResult) => format(c.value(m, null)) } : {}),
  };
}

/** The columns markdown and the terminal table show for this report, in SHOWN_ORDER (the table adds a ratio column after img/s). */
export function columnsFor(report: BenchReport): Column[] {
  const byName = new Map(BENCH_COLUMNS.map((c) => [c.csv, c]));
  return SHOWN_ORDER.map((name) => byName.get(name)!)
    .filter((c) => c.shown && (c.shown.when?.(report) ?? true))
    .map(shownColumn);
}
