// A hand-made BenchReport for exporter and plot tests (no TF.js, no timing).
import { unmeasuredModel, BENCH_SCHEMA_VERSION, type BatchResult, type BenchReport, type GpuSummary, type ModelResult } from '../../src/measure/result.js';
import { gflopsPerSecond, imagesPerSecond } from '../../src/measure/metrics.js';
import { summarize } from '../../src/measure/stats.js';

const MIB = 1024 * 1024;

/** Deterministic samples around `centerMs` (±5 %), optionally one slow outlier at the end. */
export function fakeSamples(centerMs: number, n: number, outlier = false): number[] {
  const xs = Array.from({ length: n }, (_, i) => centerMs * (1 + 0.05 * Math.sin(i * 1.7)));
  if (outlier) xs[n - 1] = centerMs * 20;
  return xs;
}

export const FAKE_GPU: GpuSummary = {
  samples: 12,
  pollIntervalMs: 100,
  gpuIndices: [0],
  processMemoryPeakByte: 1234 * MIB,
  processMemoryMeanByte: 1100 * MIB,
  deviceMemoryUsedPeakByte: 2000 * MIB,
  deviceMemoryUsedMeanByte: 1900 * MIB,
  deviceMemoryTotalByte: 81559 * MIB,
  utilizationPeakPercent: 97,
  utilizationMeanPercent: 80,
};

export function fakeRun(batchSize: number, centerMs: number, macsPerImage: number | null, gpu: GpuSummary | null, outlier = false): BatchResult {
  const samplesMs = fakeSamples(centerMs, 20, outlier);
  const ips = imagesPerSecond(batchSize, samplesMs);
  return {
    batchSize,
    firstInferenceMs: centerMs * 8,
    warmupRuns: 3,
    samplesMs,
    latencyMs: summarize(samplesMs),
    imagesPerSecond: ips,
    gflopsPerSecond: gflopsPerSecond(macsPerImage, ips),
    cpu: { processPercentOfOneCore: 187.5, cores: 2, systemPercent: 95.2, userMs: 900, systemMs: 40 },
    memory: { rssPeakSampledByte: 900 * MIB, maxRssByte: 950 * MIB, tfBytes: 553 * MIB, tfTensors: 32 },
    gpu,
    warnings: outlier ? [{ kind: 'statistical-outliers', outlierCount: 1, sampleCount: 20, warmupRuns: 3 }] : [],
  };
}

/**
 * vgg16 (slow, GPU measured at batch 1 only), mobilenet (fast, MACs unknown, random
 * weights), resnet50 (failed while loading): 2 batch sizes each for the first two.
 */
export function fakeReport(): BenchReport {
  const vgg16: ModelResult = {
    model: 'vgg16',
    backend: 'cpu',
    device: 'cpu',
    provider: 'cpu',
    adapter: 'Test CPU 3000',
    status: 'ok',
    weights: 'imagenet',
    parameters: 138_357_544,
    macsPerImage: 15_470_264_320,
    loadMs: 2345.6,
    rssAfterLoadByte: 700 * MIB,
    runs: [fakeRun(1, 120, 15_470_264_320, FAKE_GPU), fakeRun(8, 800, 15_470_264_320, null, true)],
    warnings: [],
  };
  const mobilenet: ModelResult = {
    model: 'mobilenet',
    backend: 'cpu',
    device: 'cpu',
    provider: 'cpu',
    adapter: 'Test CPU 3000',
    status: 'ok',
    weights: 'random',
    parameters: 4_253_864,
    macsPerImage: null,
    loadMs: 310.2,
    rssAfterLoadByte: 300 * MIB,
    runs: [fakeRun(1, 9.5, null, null), fakeRun(8, 40, null, null)],
    warnings: [{ kind: 'random-weights', model: 'mobilenet' }],
  };
  const resnet50: ModelResult = unmeasuredModel('resnet50', 'imagenet', 'weights file not found: resnet50.h5');
  return {
    schemaVersion: BENCH_SCHEMA_VERSION,
    tool: { name: 'backbones', version: '0.1.0' },
    createdAt: '2025-01-02T03:04:05.000Z',
    command: ['backbones', 'bench', 'vgg16', 'mobilenet', 'resnet50'],
    machine: {
      cpuModel: 'Test CPU 3000',
      cores: { physical: 1, logical: 2, available: 2 },
      ramTotalByte: 24 * 1024 * MIB,
      os: { platform: 'linux', distro: 'Ubuntu', release: '22.04', kernel: '6.8.0', arch: 'x64' },
      gpus: [],
      gpusUnavailableReason: 'nvidia-smi not found',
      source: 'os',
    },
    runtime: { node: 'v20.20.2', tfjs: '4.22.0', backend: 'cpu', threads: null },
    settings: { batchSizes: [1, 8], warmupRuns: 3, iterations: 20, gpuPollMs: 100, weights: 'imagenet' },
    models: [vgg16, mobilenet, resnet50],
  };
}
