// The `backbones bench` result: the versioned JSON schema (as TS types) and the run
// constants. Warnings are in warnings.ts, derived formulas in metrics.ts, the columns of
// the csv/markdown/table exports in export/columns.ts. bench/SCHEMA.md is generated from
// these types (`npm run schema`; a test fails when it is out of date).
//
// Conventions (after hyperfine's BenchmarkResult): units are in the field names
// (`Ms`, `Byte`, `Percent`, `S`), the raw samples are kept (`samplesMs`), and a
// value that was not measured is `null` (printed "n/a"), never 0.
import type { Precision } from '../onnx/precision.js';
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
  /** Schema version of the writer (`BENCH_SCHEMA_VERSION`). */
  schemaVersion: typeof BENCH_SCHEMA_VERSION;
  /** The program that wrote the report. */
  tool: {
    /** `"backbones"`. */
    name: string;
    /** Package version that wrote the file, e.g. `"0.1.0"`. */
    version: string;
  };
  /** Start of the run, ISO 8601 UTC. */
  createdAt: string;
  /** The command line, e.g. `["backbones","bench","vgg16","mobilenet"]`. */
  command: string[];
  /** Hardware and OS, below. */
  machine: MachineSection;
  /** Node / TF.js runtime, below. */
  runtime: RuntimeSection;
  /** How it was measured, below. */
  settings: BenchSettings;
  /** One entry per requested model, in command-line order, failed ones included. */
  models: ModelResult[];
}

export interface MachineSection {
  /** CPU brand string (systeminformation, or `os.cpus()[0].model`). */
  cpuModel: string;
  /** Core counts. */
  cores: {
    /** Physical cores; `null` when unknown (node:os fallback). */
    physical: number | null;
    /** Logical cores (hardware threads) of the machine. */
    logical: number;
    /** `os.availableParallelism()`: logical cores this process may use (cgroups/affinity). */
    available: number;
  };
  /** Installed RAM. */
  ramTotalByte: number;
  /** The operating system, as `machineInfo()` reports it (`src/monitor/system.ts`). */
  os: MachineInfo['os'];
  /** NVIDIA GPUs from `nvidia-smi --query-gpu`; `[]` when none or nvidia-smi is unavailable. */
  gpus: {
    /** nvidia-smi index. */
    index: number;
    /** e.g. `"NVIDIA H100 80GB HBM3"`. */
    name: string;
    /** Driver version. */
    driver: string | null;
    /** Device memory (nvidia-smi MiB × 1048576). */
    memoryTotalByte: number | null;
  }[];
  /** Why `gpus` could not be listed: `"nvidia-smi not found"`, `"nvidia-smi timed out after 2000 ms"`, `"nvidia-smi failed: …"`; `null` when nvidia-smi answered. */
  gpusUnavailableReason: string | null;
  /** Where the CPU/RAM/OS values came from (systeminformation, or node:os when it was slow or failed). */
  source: 'systeminformation' | 'os';
}

export interface RuntimeSection {
  /** `process.version`. */
  node: string;
  /** `@tensorflow/tfjs` version. */
  tfjs: string;
  /** The engine label(s) the children reported, each followed by `on CPU|GPU <adapter>`, joined by `; ` when rows ran on different engines, e.g. `onnx (onnxruntime-node 1.30.0, webgpu, 2 threads) on GPU llvmpipe: Mesa … (mesa, software)`. */
  backend: string;
  /** Version of the backend package / libtensorflow, when known. */
  backendVersion?: string;
  /** Intra-op threads the backend used; `null` when it does not say. */
  threads: number | null;
}

export interface BenchSettings {
  /** Batch sizes timed for every model, in order. */
  batchSizes: number[];
  /** Untimed runs per batch size after the first inference. */
  warmupRuns: number;
  /** Timed runs per batch size, when a fixed count was requested. */
  iterations?: number;
  /** Time budget per batch size in seconds, when a duration was requested. */
  durationS?: number;
  /** Pause between nvidia-smi polls. */
  gpuPollMs: number;
  /** Requested weights: `"imagenet"`, `"random"`, or a path/URL. */
  weights: string;
}

/** One model: how it loaded and how each batch size ran. */
export interface ModelResult {
  /** Model id as given, e.g. `"vgg16"`. */
  model: string;
  /** Engine that ran it: `wasm`, `cpu`, `tensorflow` or `onnx`; absent when the model failed before one started. */
  backend?: string;
  /** Where it computed (added within version 1). A software WebGPU adapter (lavapipe) counts as `gpu`: see `adapter`. Absent when no engine started. */
  device?: 'cpu' | 'gpu';
  /** What computed it: the ONNX Runtime execution provider (`cpu`, `webgpu`, `cuda`, `tensorrt`) or the TensorFlow.js backend (`wasm`, `cpu`, `cuda`/`cpu` for tfjs-node). */
  provider?: string;
  /** The processor: the CPU model, `CUDA device`, or the WebGPU adapter as `description (vendor, architecture, software|hardware)`. */
  adapter?: string;
  /** Arithmetic of the onnx engine: `fp32`, `int8` (`--precision int8`) or `fp16` (`--precision fp16`, GPU); absent in reports from before it existed. */
  precision?: Precision;
  /** `"failed"` when loading or any batch size threw; `runs` then holds the batch sizes that finished. */
  status: 'ok' | 'failed';
  /** The error message of a failed model. */
  error?: string;
  /** Weights actually used: `"imagenet"`, `"random"` (untrained: timings valid, predictions not), or a path/URL. */
  weights: 'imagenet' | 'random' | (string & {});
  /** Parameter count (trainable + non-trainable). */
  parameters: number | null;
  /** Multiply-accumulates of one forward pass for one image. */
  macsPerImage: number | null;
  /** Wall time to build the model and load its weights; `null` if it failed before finishing. */
  loadMs: number | null;
  /** Process RSS right after loading. */
  rssAfterLoadByte: number | null;
  /** The child's peak RSS as the OS reports it (VmHWM from `/proc/<pid>/status`, read by the parent once the child has reported); cross-checks `runs[].memory.maxRssByte`. Null off Linux. */
  osPeakRssByte?: number | null;
  /** One per batch size that ran. */
  runs: BatchResult[];
  /** Warnings about the model as a whole (e.g. `random-weights`). */
  warnings: BenchWarning[];
}

/** One model at one batch size. */
export interface BatchResult {
  /** Images per forward pass. */
  batchSize: number;
  /** Wall time of the very first inference at this batch size (kernel compilation, allocation). Not in the statistics. */
  firstInferenceMs: number;
  /** Untimed runs after the first inference. Not in the statistics. */
  warmupRuns: number;
  /** Wall time of every timed run (one batch each), in run order. */
  samplesMs: number[];
  /** Summary of `samplesMs`, below. */
  latencyMs: LatencySummary;
  /** `batchSize × samplesMs.length / (Σ samplesMs / 1000)` (= batch size / mean latency). */
  imagesPerSecond: number;
  /** `2 × macsPerImage × imagesPerSecond / 1e9` (one MAC = 2 FLOPs); `null` when MACs are unknown. */
  gflopsPerSecond: number | null;
  /** CPU over the timed runs. */
  cpu: {
    /** `(user + system CPU time of the process, all threads) / wall time × 100` over the timed runs. 100 = one core busy; at most `100 × cores`. */
    processPercentOfOneCore: number;
    /** `os.availableParallelism()`. */
    cores: number;
    /** Whole-machine busy share 0–100 (all programs), `1 − Δidle/Δtotal` of `os.cpus()` times; `null` when the window was too short for the counters (10 ms ticks). */
    systemPercent: number | null;
    /** Process user-mode CPU time over the timed runs. */
    userMs: number;
    /** Process kernel-mode CPU time over the timed runs. */
    systemMs: number;
  };
  /** Memory over the timed runs. */
  memory: {
    /** Largest sampled `process.memoryUsage.rss()`. A lower bound: TF.js kernels run synchronously and block the sampler. */
    rssPeakSampledByte: number | null;
    /** `process.resourceUsage().maxRSS × 1024` (maxRSS is KiB): the process's lifetime RSS high-water mark. Never decreases, so later models include earlier ones' peaks. */
    maxRssByte: number;
    /** `tf.memory().numBytes` after the timed runs, outputs disposed (weights + any leak). */
    tfBytes: number | null;
    /** `tf.memory().numTensors` at the same moment. */
    tfTensors: number | null;
  };
  /** nvidia-smi figures over the timed runs; `null` = not measured (no nvidia-smi, or it never answered) — never zeros. */
  gpu: GpuSummary | null;
  /** Present with `--images DIR`: the real overlapped pipeline (decode pool → prefetch queue → engine) over the folder, in the same child right after this batch size's model-only runs (`EndToEndResult`). */
  endToEnd?: EndToEndResult;
  /** Problems with this measurement. */
  warnings: BenchWarning[];
}

/**
 * `bench --images DIR`: the real overlapped pipeline (decode pool -> prefetch queue ->
 * engine) over the folder, in the same process right after the model-only runs.
 */
export interface EndToEndResult {
  /** Images of the folder decoded and inferred per pass (files that fail to decode are left out). */
  images: number;
  /** Passes over the folder in the timed run: enough for 3 s (or `--duration`), 1 with `--iterations`. An untimed warm-up over two batches comes first. */
  passes: number;
  /** Files that failed to decode, per pass. */
  failed: number;
  /** `"exact"` or `"fast"` (`--decode`). */
  decode: string;
  /** Decode-pool threads (0 = the main thread). */
  decodeThreads: number;
  /** `--prefetch-mb` in bytes. */
  prefetchBudgetByte: number;
  /** Wall time of the timed passes. */
  wallMs: number;
  /** Images decoded and inferred (all passes) / wall seconds: what `extract` gets. */
  imagesPerSecond: number;
  /** This run's model-only `imagesPerSecond`, repeated for the ratio. */
  modelImagesPerSecond: number;
  /** `100 × imagesPerSecond / modelImagesPerSecond`. */
  percentOfModel: number;
  /** Mean wall time per image of the decode inside a decode thread (two images per thread are in flight at once, so this is not CPU time: see `decodeCpuMsPerImage`). */
  decodeMsPerImage: number;
  /** Mean resize + normalise wall time per image. */
  preprocessMsPerImage: number;
  /** CPU time per image of decoding: the pool's CPU (decode threads + libvips' threads) less resize + normalise. `null` when not measurable (0 decode threads, or not Linux). */
  decodeCpuMsPerImage: number | null;
  /** CPU time per image of resize + normalise in the decode threads. `null` when not measured (not Linux). */
  preprocessCpuMsPerImage: number | null;
  /** Process CPU time per image of the model-only runs of this batch size (user + system / images): the model's core-time. */
  modelCpuMsPerImage: number;
  /** `os.availableParallelism()` of the child. */
  cores: number;
  /** The overlap limit: the rate if decoding (+ preprocessing) and the model overlapped perfectly on every core, `1000 × cores / (decodeCpuMsPerImage + preprocessCpuMsPerImage + modelCpuMsPerImage)`. `null` when the pool's CPU was not measurable. */
  overlapLimitImagesPerSecond: number | null;
  /** `100 × imagesPerSecond / overlapLimitImagesPerSecond`. */
  percentOfOverlapLimit: number | null;
  /** Engine wall time per image in the pipelined run (higher than model-only when decoding competes for the cores). */
  inferenceMsPerImage: number;
  /** Share of the wall time the engine waited for images, %. */
  engineWaitPercent: number;
  /** CPU time of the decode threads and of libvips' own threads (`/proc/self/task`, Linux) / wall time × 100; 100 = one core. The libuv threads that hand work to libvips are not counted. `null` off Linux. */
  poolCpuPercentOfOneCore: number | null;
  /** Process CPU (all threads) / wall time × 100 over the timed passes. */
  processCpuPercentOfOneCore: number;
  /** `"inference"` when the engine computed longer than it waited, else `"decode"` or `"preprocess"`, whichever takes longer per image. */
  limitingStage: 'decode' | 'preprocess' | 'inference';
  /** Largest memory the prefetch queue charged at once (header estimates). */
  prefetchPeakByte: number;
  /** `process.resourceUsage().maxRSS × 1024` after the passes. */
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
