// The engine seam: what every backend (TensorFlow.js builds, ONNX Runtime and its execution
// providers) offers the rest of the program. Types only: importing this loads nothing.
import type { tf } from '../tf.js';
import type { Precision } from '../onnx/precision.js';
import type { Int8Origin, Int8Source, Int8Subject } from '../onnx/quantize/index.js';

export type { Int8Origin, Precision };

export type Device = 'cpu' | 'gpu';
export type DeviceRequest = 'auto' | Device;

/** A WebGPU adapter as Dawn reports it (the probe runs in a child process: webgpu-probe.ts). */
export interface WebgpuAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Software rasteriser (Mesa lavapipe/llvmpipe, SwiftShader) or Dawn's fallback adapter: never chosen by auto. */
  software: boolean;
  /** Adapter features Dawn offers (e.g. shader-f16, subgroups, timestamp-query). */
  features: string[];
}

/** What the WebGPU probe found: adapters, and whether ONNX Runtime's webgpu provider ran on one. */
export interface WebgpuReport {
  /** A Vulkan loader (libvulkan.so.1) was found (Linux only; null elsewhere). */
  vulkanLoader: boolean | null;
  /** Vulkan driver manifests (ICD .json files) found. */
  vulkanDrivers: string[];
  adapters: WebgpuAdapter[];
  /** How the adapters were listed, or why they could not be. */
  listing: string;
  /** ONNX Runtime's webgpu provider ran a one-node model: true, false, or null when not tried. */
  ortRuns: boolean | null;
  /** Why webgpu cannot be used (null when a usable adapter was found). */
  reason: string | null;
}

export type ProbeStatus = 'available' | 'not-installed' | 'failed';

/** Names of table rows (backends.ts); doctor lists them in this order. */
export type Candidate = 'tensorflow-gpu' | 'tensorflow' | 'onnx' | 'wasm' | 'cpu';

export interface BackendProbe {
  candidate: Candidate;
  /** onnx: the execution providers the installed onnxruntime-node lists. */
  providers?: string[];
  /** npm package providing it. */
  package: string;
  status: ProbeStatus;
  /** Why it is unavailable, or what it offers. */
  reason: string;
  version?: string;
  /** The device it would compute on when it starts. */
  device?: Device;
}

/** What an engine is, for logs, doctor, bench and the library. */
export interface BackendChoice {
  requested: string;
  /** Device asked for: auto, cpu or gpu. */
  deviceRequested: DeviceRequest;
  /** The engine that runs models: 'tensorflow' | 'onnx' | 'wasm' | 'cpu'. */
  backend: string;
  /**
   * The tfjs backend underneath: models are always built and their weights loaded with
   * TensorFlow.js; with onnx, tfjs only builds the graph that ONNX Runtime runs.
   */
  tfjsBackend: string;
  /** ONNX Runtime details when backend is onnx: providers listed by the package, and those used. */
  onnx?: { version: string; providers: string[]; executionProviders: string[]; threads: number };
  /** Human label, e.g. "wasm (SIMD, 1 thread)" or "onnx (onnxruntime-node 1.30.0, webgpu+cpu, 2 threads)". */
  label: string;
  /** One sentence: why this backend runs. */
  reason: string;
  /** Every candidate tried, in order, with its outcome. */
  attempts: BackendProbe[];
  /** Threads the backend computes with (wasm: its own threads; cpu: 1; tensorflow: cores). */
  threads: number;
  tfjsVersion: string;
  /** Where the model computes. */
  device: Device;
  /** What computes it: the ONNX Runtime execution provider (cpu, webgpu, cuda…) or the tfjs backend. */
  provider: string;
  /** The processor: a CPU model, a WebGPU adapter ("llvmpipe … (software)"), or "CUDA device". */
  adapter: string;
  /** Native build or provider uses a GPU device (also true on a software WebGPU adapter: see adapter). */
  gpu: boolean;
  /** The WebGPU adapter the webgpu provider runs on, as the probe found it (features: shader-f16…); only with webgpu. */
  webgpuAdapter?: WebgpuAdapter;
}

export type Model = tf.LayersModel | tf.GraphModel;

/** A model made ready on an engine, exposing the outputs it was prepared with. */
export interface PreparedModel {
  /** What runs it: 'onnx' or the tfjs backend's name. */
  readonly engineName: string;
  /** Whether the engine holds its own copy of the weights (the tfjs copy may then be freed). */
  readonly ownsWeights: boolean;
  /** One batch [n, h, w, 3] → the named output (default: the model's first); the caller disposes it. */
  run(batch: tf.Tensor4D, output?: string): Promise<tf.Tensor>;
  dispose(): Promise<void>;
  /** Set when the engine could not take the model and another engine runs it instead. */
  readonly fallback?: { engine: Engine; reason: string };
  /** The precision it runs at (fp32 when the one asked for could not be had under auto). */
  readonly precision: Precision;
  /** int8: which int8 model runs, and how it was made. */
  readonly int8?: Int8Origin;
}

/** A precision other than fp32, as the spec asks it of an engine. */
export interface PrecisionRequest {
  precision: Precision;
  /** int8: where its model comes from (--int8-model, --calibrate, the cache). */
  int8?: Int8Source;
  /** What calibration needs to know of the model besides its layers. */
  subject: Omit<Int8Subject, 'model'>;
  /** --backend auto: an engine that cannot run it runs fp32 with a warning; else that is an error. */
  fallback: boolean;
}

export interface PrepareSpec {
  /** For messages: the backbone's name. */
  name: string;
  /** Layer names to expose besides the model's output. */
  outputs: string[];
  /** Architecture name (part of an export's cache key). */
  architecture: string;
  /** Where an engine may cache what it derives from the model (pretrained weights only; undefined: do not cache). */
  cacheDir?: string;
  /** Run at this precision (default fp32); the engine obtains what it needs (int8: the int8 model). */
  precision?: PrecisionRequest;
  /** The size a batch of n images runs as (the measured best batch, batch-plan.ts); default n. */
  subBatch?: (n: number) => number;
}

/** One running backend: prepares models, describes itself, is disposed at the end. */
export interface Engine {
  readonly choice: BackendChoice;
  prepare(model: Model, spec: PrepareSpec): Promise<PreparedModel>;
  dispose(): Promise<void>;
}

/** How native packages are imported; injectable so tests can simulate load failures. */
export type NativeImporter = (pkg: string) => Promise<unknown>;

/** How ONNX Runtime is probed; injectable so tests can simulate a broken install. */
export type OnnxProbe = () => Promise<{ ok: true; version: string; providers: string[] } | { ok: false; reason: string }>;

/** How WebGPU is probed; injectable so tests can simulate a hardware adapter or none. */
export type WebgpuProber = (options: { ort: 'if-hardware' | 'always' }) => Promise<WebgpuReport>;

/** What a command asks for: the backend, the device, the provider order, the threads. */
export interface EngineRequest {
  backend?: string;
  device?: string;
  /** ONNX Runtime execution providers in order (--provider / BACKBONES_ONNX_PROVIDERS). */
  providers?: string[];
  threads?: number;
}

/** Probes the selection may use; each defaults to the real one. */
export interface EngineDeps {
  importNative?: NativeImporter;
  importOnnx?: OnnxProbe;
  probeWebgpu?: WebgpuProber;
  /** Whether ONNX Runtime's CUDA provider library is installed (default: look for it). */
  cudaInstalled?: () => boolean;
  env?: NodeJS.ProcessEnv;
}
