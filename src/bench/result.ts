// The `backbones bench` result: the versioned JSON schema (as TS types) and the run
// constants. Warnings are in warnings.ts, derived formulas in metrics.ts, the columns of
// the csv/markdown/table exports in export/columns.ts. bench/SCHEMA.md is generated from
// these types (`npm run schema`; a test fails when it is out of date).
//
// Conventions (after hyperfine's BenchmarkResult): units are in the field names
// (`Ms`, `Byte`, `Percent`, `S`), the raw samples are kept (`samplesMs`), and a
// value that was not measured is `null` (printed "n/a"), never 0.
import type { GpuSummary } from '../monitor/nvidia-smi.js';
import type { MachineInfo } from '../monitor/system.js';
import type { LatencySummary } from './stats.js';
import type { BenchWarning } from './warnings.js';

export type { GpuSummary } from '../monitor/nvidia-smi.js';
export type { LatencySummary } from './stats.js';
export type { BenchWarning } from './warnings.js';

/** Bump on any breaking change (renamed/removed field, changed unit or meaning). Adding fields is not breaking. */
export const BENCH_SCHEMA_VERSION = 1;

/** Adaptive run count (hyperfine's rule): at least this many runs … */
export const MIN_RUNS = 10;
/** … and at least this many seconds of timed runs, */
export const MIN_SECONDS = 3;
/** … but never more than this many runs. */
export const MAX_RUNS = 1000;


/** A whole `backbones bench` run. */
export interface BenchReport {
  /** BENCH_SCHEMA_VERSION of the writer. */
  schemaVersion: typeof BENCH_SCHEMA_VERSION;
  /** The program that wrote the report. */
  tool: {
    /** "backbones". */
    name: string;
    /** Its package version, e.g. "0.1.0". */
    version: string;
  };
  /** When the run started, ISO 8601 UTC (new Date().toISOString()). */
  createdAt: string;
  /** The command line, e.g. ["backbones", "bench", "vgg16", "mobilenet"]. */
  command: string[];
  /** Hardware and OS. */
  machine: MachineSection;
  /** JS/TF.js runtime. */
  runtime: RuntimeSection;
  /** How it was measured. */
  settings: BenchSettings;
  /** One entry per requested model, in command-line order (failed ones included). */
  models: ModelResult[];
}

export interface MachineSection {
  /** CPU brand string, e.g. "Intel Xeon Platinum 8481C". */
  cpuModel: string;
  cores: {
    /** Physical cores; null when unknown (node:os fallback). */
    physical: number | null;
    /** Logical cores (hardware threads) of the machine. */
    logical: number;
    /** os.availableParallelism(): logical cores this process may use. */
    available: number;
  };
  /** Installed RAM in bytes. */
  ramTotalByte: number;
  /** platform, distro, release, kernel, arch: as machineInfo() reports them (monitor/system.ts). */
  os: MachineInfo['os'];
  /** NVIDIA GPUs from nvidia-smi; [] when none or nvidia-smi unavailable (see gpusUnavailableReason). */
  gpus: {
    /** nvidia-smi index. */
    index: number;
    /** e.g. "NVIDIA H100 80GB HBM3". */
    name: string;
    /** Driver version; null when not reported. */
    driver: string | null;
    /** Device memory in bytes; null when not reported. */
    memoryTotalByte: number | null;
  }[];
  /** Why `gpus` could not be listed ("nvidia-smi not found", ...); null when nvidia-smi answered. */
  gpusUnavailableReason: string | null;
  /** Where cpu/ram/os values came from: systeminformation, or the node:os fallback. */
  source: 'systeminformation' | 'os';
}

export interface RuntimeSection {
  /** process.version, e.g. "v20.20.2". */
  node: string;
  /** @tensorflow/tfjs version, e.g. "4.22.0". */
  tfjs: string;
  /** tf.getBackend(): "tensorflow" (tfjs-node/-gpu), "wasm", "cpu", ... */
  backend: string;
  /** Version of the backend package (e.g. tfjs-node-gpu or libtensorflow) when known. */
  backendVersion?: string;
  /** Intra-op threads the backend was told to use; null when the backend does not say. */
  threads: number | null;
}

export interface BenchSettings {
  /** Batch sizes timed for every model, in order. */
  batchSizes: number[];
  /** Untimed runs per batch size after the first inference, excluded from statistics. */
  warmupRuns: number;
  /** Timed runs per batch size, when a fixed count was requested. */
  iterations?: number;
  /** Time budget per batch size in seconds, when a duration was requested. */
  durationS?: number;
  /** nvidia-smi polling interval in ms. */
  gpuPollMs: number;
  /** Requested weights ("imagenet", "random", or a path/URL). */
  weights: string;
}

/** One model: how it loaded and how each batch size ran. */
export interface ModelResult {
  /** Model id as given, e.g. "vgg16". */
  model: string;
  /** Engine that ran it: "wasm", "cpu", "tensorflow" or "onnx"; absent when it failed before one started. */
  backend?: string;
  /** Where it computed: 'cpu' or 'gpu' (a software WebGPU adapter counts as gpu: see adapter); absent when no engine started. */
  device?: 'cpu' | 'gpu';
  /** What computed it: the ONNX Runtime execution provider (cpu, webgpu, cuda…) or the tfjs backend (wasm, cpu, tensorflow). */
  provider?: string;
  /** The processor: CPU model, or the WebGPU adapter with "(…, software)" / "(…, hardware)". */
  adapter?: string;
  /** Arithmetic of the onnx engine: fp32, or int8 (--precision int8); absent in reports from before it existed. */
  precision?: 'fp32' | 'int8';
  /** 'failed' when loading or any batch size threw; `runs` holds the batch sizes that finished. */
  status: 'ok' | 'failed';
  /** The error message when status is 'failed'. */
  error?: string;
  /** Weights actually used: 'imagenet', 'random' (untrained; timings valid, predictions not), or a path/URL. */
  weights: 'imagenet' | 'random' | (string & {});
  /** Trainable + non-trainable parameter count; null when unknown. */
  parameters: number | null;
  /** Multiply-accumulates for one image, forward pass; null when unknown. */
  macsPerImage: number | null;
  /** Wall time to build the model and load its weights, ms; null when it failed before finishing. */
  loadMs: number | null;
  /** process RSS right after loading, bytes; null when not reached. */
  rssAfterLoadByte: number | null;
  /**
   * The child's peak RSS as the OS reports it (VmHWM from /proc/<pid>/status, read by the
   * parent when the child reported), bytes; cross-checks memory.maxRssByte. Null off Linux.
   */
  osPeakRssByte?: number | null;
  /** One entry per batch size that ran. */
  runs: BatchResult[];
  /** Warnings about the model as a whole (e.g. random weights). */
  warnings: BenchWarning[];
}

/** One model at one batch size. */
export interface BatchResult {
  /** Images per forward pass. */
  batchSize: number;
  /** Wall time of the very first inference at this batch size (kernel compilation, allocation), ms; excluded from statistics. */
  firstInferenceMs: number;
  /** Untimed runs after the first inference, excluded from statistics. */
  warmupRuns: number;
  /** Raw wall time of every timed run (one batch each), ms, in run order. */
  samplesMs: number[];
  /** Summary of samplesMs (linear-interpolation percentiles, sample std); see stats.ts. */
  latencyMs: LatencySummary;
  /** batchSize × runs / total timed seconds (= batchSize / mean latency). */
  imagesPerSecond: number;
  /** 2 × macsPerImage × imagesPerSecond / 1e9 (one MAC = 2 FLOPs); null when MACs are unknown. */
  gflopsPerSecond: number | null;
  /** CPU over the timed runs. */
  cpu: {
    /** Process CPU time (user + system, all threads) / wall time × 100; 100 = one core, max 100 × cores. */
    processPercentOfOneCore: number;
    /** os.availableParallelism() at the time. */
    cores: number;
    /** Whole-machine busy percent (0..100, all programs) from os.cpus() deltas; null when too short to measure. */
    systemPercent: number | null;
    /** Process user-mode CPU time, ms. */
    userMs: number;
    /** Process kernel-mode CPU time, ms. */
    systemMs: number;
  };
  /** Memory over the timed runs. */
  memory: {
    /** Largest sampled process RSS, bytes (a lower bound: sync kernels block the sampler); null when not sampled. */
    rssPeakSampledByte: number | null;
    /** process.resourceUsage().maxRSS × 1024: the process's lifetime RSS high-water mark, bytes (never decreases across models). */
    maxRssByte: number;
    /** tf.memory().numBytes after the timed runs, outputs disposed (weights + leaks); null when unknown. */
    tfBytes: number | null;
    /** tf.memory().numTensors after the timed runs, outputs disposed; null when unknown. */
    tfTensors: number | null;
  };
  /** GPU figures from nvidia-smi over the timed runs; null = not measured ("n/a"), never zeros. */
  gpu: GpuSummary | null;
  /** Present when images were decoded and preprocessed too (end-to-end mode). */
  endToEnd?: EndToEndResult;
  /** Problems with this measurement, each with a hint (warningMessage). */
  warnings: BenchWarning[];
}

/**
 * `bench --images DIR`: the real overlapped pipeline (decode pool -> prefetch queue ->
 * engine) over the folder, in the same process right after the model-only runs.
 */
export interface EndToEndResult {
  /** Images of the folder decoded and inferred per pass (files that fail to decode are left out). */
  images: number;
  /** Passes over the folder in the timed run (enough for MIN_SECONDS; 1 with --iterations). */
  passes: number;
  /** Files that failed to decode, per pass. */
  failed: number;
  /** 'exact' or 'fast'. */
  decode: string;
  /** Decode-pool threads (0 = the main thread). */
  decodeThreads: number;
  /** Prefetch memory budget, bytes. */
  prefetchBudgetByte: number;
  /** Wall time of the timed passes, ms. */
  wallMs: number;
  /** Images (all passes) / wall seconds: what a user of `extract` gets. */
  imagesPerSecond: number;
  /** The model-only figure of the same batch size (this run's imagesPerSecond), repeated for the ratio. */
  modelImagesPerSecond: number;
  /** 100 × imagesPerSecond / modelImagesPerSecond. */
  percentOfModel: number;
  /** Mean wall time per image inside a decode thread: sharp decode, ms. */
  decodeMsPerImage: number;
  /** Mean resize + normalise time per image, ms. */
  preprocessMsPerImage: number;
  /** Engine time per image in the pipelined run, ms. */
  inferenceMsPerImage: number;
  /** Share of the wall time the engine waited for images, %. */
  engineWaitPercent: number;
  /** CPU of the decode threads + libvips' threads / wall time × 100 (100 = one core); null off Linux. */
  poolCpuPercentOfOneCore: number | null;
  /** Process CPU over the timed passes, % of one core. */
  processCpuPercentOfOneCore: number;
  /** The stage that sets the pace: the engine waited more than it computed → decode or preprocess (the longer per image), else inference. */
  limitingStage: 'decode' | 'preprocess' | 'inference';
  /** Largest memory the prefetch queue charged at once (header estimates), bytes. */
  prefetchPeakByte: number;
  /** process.resourceUsage().maxRSS × 1024 after the passes, bytes. */
  maxRssByte: number;
}

/** A model that has not (yet) measured anything: status 'failed' until a run completes. */
export function unmeasuredModel(model: string, weights: string, error?: string): ModelResult {
  return {
    model,
    status: 'failed',
    ...(error !== undefined ? { error } : {}),
    weights,
    parameters: null,
    macsPerImage: null,
    loadMs: null,
    rssAfterLoadByte: null,
    runs: [],
    warnings: [],
  };
}
