// The run spec's types: the options a spec is resolved from, and the resolved spec (plain
// data that crosses threads, processes and the queue). resolveSpec (spec.ts) makes one.
import type { DecodeMode } from '../images/model-input.js';
import type { PreprocessMode } from '../images/preprocess.js';
import type { Interpolation, ResizeMode } from '../images/resize.js';
import type { ResolvedRequest } from '../engines/request.js';
import type { Precision } from '../onnx/precision.js';
import type { Pooling } from '../zoo/card.js';
import type { ModelSelection } from '../zoo/load.js';
import type { BackendRequest } from '../engines/backends.js';
import type { DeviceRequest } from '../engines/types.js';

/**
 * Every option that shapes a run, as the commands parse them, the library takes them and
 * the spec is resolved from. Commands add only their own options (output, port, queue…).
 */
export interface SpecOptions extends ModelSelection {
  /** Zoo name or TF.js model.json path/URL (default mobilenet). */
  model?: string;
  // the task
  layer?: string;
  pool?: Pooling;
  l2?: boolean;
  topK?: number;
  // how images reach the model
  resize?: ResizeMode;
  interpolation?: Interpolation;
  background?: string;
  kerasCompat?: boolean;
  decode?: DecodeMode;
  // precision
  precision?: Precision;
  calibrate?: string;
  int8Model?: string;
  // the engine
  backend?: BackendRequest;
  /** auto (default; BACKBONES_DEVICE), cpu, or gpu (an error when no GPU works). */
  device?: DeviceRequest;
  /** ONNX Runtime execution providers, comma-separated (--provider). */
  provider?: string;
  threads?: number;
  // counts
  batchSize?: number;
  workers?: number;
  decodeThreads?: number;
  prefetchMb?: number;
}

export type SpecTask = { kind: 'classify'; topK: number } | { kind: 'extract'; layer?: string; pool: Pooling; l2: boolean };

/** A resolved, checked spec: plain data, so it crosses threads, processes and the queue. */
export interface RunSpec {
  /** The zoo name, or the model path/URL as given. */
  model: string;
  source: 'zoo' | 'file';
  /** As asked: imagenet, random, or a path/URL (a model file: imagenet = its own). */
  weights: string;
  seed: number;
  alpha?: number;
  /** Explicit, else the card's; undefined for a model file that fixes its own. */
  inputSize?: [number, number];
  /** Explicit, else the card's; undefined for a model file without --preprocess ('tf', with a warning). */
  preprocess?: PreprocessMode;
  labels?: string;
  labelOffset: number;
  /** Hashes that identify what the run reads (spec/identity.ts). */
  identity: { weights: string; labels?: string; int8?: string };
  /** classify or extract; undefined for serve, bench, quantize and the library (per request or call). */
  task?: SpecTask;
  /** serve: extract's default layer (--layer, else the card's). */
  defaultLayer?: string;
  image: { resize: ResizeMode; interpolation: Interpolation; background: string; backgroundRgb: string; kerasCompat: boolean; decode: DecodeMode };
  precision: Precision;
  int8?: { calibrate?: string; int8Model?: string };
  engine: ResolvedRequest;
  /** Counts, checked against the machine; undefined: the pipeline's default for the engine. */
  run: { batchSize: number; workers: number; decodeThreads?: number; prefetchMb?: number };
  cacheDir?: string;
}

