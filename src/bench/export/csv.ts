// One row per model × batch size (plus one per failed model), RFC 4180 quoting,
// numbers unformatted (full precision, base units), 'n/a' where nothing was measured.
import type { BatchResult, BenchReport, ModelResult } from '../result.js';
import type { BenchExporter } from './exporter.js';
import { benchRows, NA } from './format.js';
import { csvField } from '../../output/csv.js';

type Cell = string | number | null | undefined;

const CSV_COLUMNS: [header: string, value: (m: ModelResult, r: BatchResult | null) => Cell][] = [
  ['model', (m) => m.model],
  ['backend', (m) => m.backend],
  ['device', (m) => m.device],
  ['provider', (m) => m.provider],
  ['adapter', (m) => m.adapter],
  ['precision', (m) => m.precision],
  ['status', (_, r) => (r ? 'ok' : 'failed')],
  ['weights', (m) => m.weights],
  ['parameters', (m) => m.parameters],
  ['macs_per_image', (m) => m.macsPerImage],
  ['load_ms', (m) => m.loadMs],
  ['rss_after_load_byte', (m) => m.rssAfterLoadByte],
  ['batch_size', (_, r) => r?.batchSize],
  ['warmup_runs', (_, r) => r?.warmupRuns],
  ['first_inference_ms', (_, r) => r?.firstInferenceMs],
  ['runs', (_, r) => r?.latencyMs.count],
  ['mean_ms', (_, r) => r?.latencyMs.mean],
  ['std_ms', (_, r) => r?.latencyMs.std],
  ['min_ms', (_, r) => r?.latencyMs.min],
  ['p50_ms', (_, r) => r?.latencyMs.p50],
  ['p90_ms', (_, r) => r?.latencyMs.p90],
  ['p95_ms', (_, r) => r?.latencyMs.p95],
  ['p99_ms', (_, r) => r?.latencyMs.p99],
  ['max_ms', (_, r) => r?.latencyMs.max],
  ['images_per_second', (_, r) => r?.imagesPerSecond],
  ['gflops_per_second', (_, r) => r?.gflopsPerSecond],
  ['cpu_process_percent_of_one_core', (_, r) => r?.cpu.processPercentOfOneCore],
  ['cpu_cores', (_, r) => r?.cpu.cores],
  ['cpu_system_percent', (_, r) => r?.cpu.systemPercent],
  ['rss_peak_sampled_byte', (_, r) => r?.memory.rssPeakSampledByte],
  ['max_rss_byte', (_, r) => r?.memory.maxRssByte],
  ['tf_bytes', (_, r) => r?.memory.tfBytes],
  ['tf_tensors', (_, r) => r?.memory.tfTensors],
  ['gpu_process_memory_peak_byte', (_, r) => r?.gpu?.processMemoryPeakByte],
  ['gpu_device_memory_used_peak_byte', (_, r) => r?.gpu?.deviceMemoryUsedPeakByte],
  ['gpu_utilization_mean_percent', (_, r) => r?.gpu?.utilizationMeanPercent],
  ['warnings', (m, r) => [...m.warnings, ...(r?.warnings ?? [])].map((w) => w.kind).join(';')],
  ['error', (m, r) => (r ? '' : (m.error ?? ''))],
];

export const csvExporter: BenchExporter = {
  extension: 'csv',
  serialize(report: BenchReport): string {
    const lines = [CSV_COLUMNS.map(([h]) => h).join(',')];
    for (const { model, run } of benchRows(report)) {
      lines.push(CSV_COLUMNS.map(([, value]) => csvField(value(model, run), NA)).join(','));
    }
    return `${lines.join('\n')}\n`;
  },
};
