// Runs a tf.LayersModel on ONNX Runtime: export (or reuse the cached .onnx), open an
// InferenceSession with explicit threading, feed NHWC batches, get tfjs-shaped outputs.
// Why: tfjs' wasm backend runs one thread in Node (~30-45 GFLOP/s); ONNX Runtime's
// MLAS kernels reach ~10x that on the same two cores.
import os from 'node:os';
import type { InferenceSession } from 'onnxruntime-node';
import { BackbonesError, usageError } from '../errors.js';
import type { tf } from '../tf.js';
import { cachedFileExists, onnxCachePath, writeAtomically } from './cache.js';
import { exportToOnnx, type ExportPrecision } from './export.js';
import { loadOrt, type Ort } from './ort.js';

export interface OnnxSessionOptions {
  /** Layer names to expose besides the model's outputs (NHWC like tfjs). */
  outputs?: string[];
  /** Intra-op threads; default os.availableParallelism(). */
  threads?: number;
  /**
   * Let idle intra-op threads spin (ORT's default). Off by default: spinning burns CPU
   * between runs and makes CPU% measurements dishonest, for a small latency gain.
   */
  spinning?: boolean;
  /** With cacheKey: the .onnx lives at <cacheDir>/onnx/<cacheKey>.onnx. */
  cacheDir?: string;
  /** Identifies the export (see onnxCacheKey in hash.ts); the caller derives it. */
  cacheKey?: string;
  /** Default ['cpu']; others only if onnxruntime-node lists them (listSupportedBackends). */
  executionProviders?: string[];
  /** A ready ONNX model for `model` (e.g. its int8 quantization) to run instead of exporting it; the cache is not used. */
  prebuilt?: Uint8Array;
  /** The export's precision (default fp32); the cache key must say the same (onnxCacheKey's precision). */
  precision?: ExportPrecision;
}

export interface OnnxOutput {
  data: Float32Array;
  dims: number[];
}

interface SessionState {
  session: InferenceSession;
  exported: boolean;
  modelPath?: string;
  threads: number;
  executionProviders: string[];
}

function checkProviders(ort: Ort, requested: string[]): string[] {
  const listed = ort.listSupportedBackends().map((b) => b.name);
  for (const p of requested) {
    if (!listed.includes(p)) {
      throw usageError(`ONNX Runtime execution provider '${p}' is not available. This onnxruntime-node lists: ${listed.join(', ')}`);
    }
  }
  if (requested.length === 0) throw usageError('executionProviders must name at least one provider');
  return requested;
}

function sessionOptions(threads: number, spinning: boolean, providers: string[]): InferenceSession.SessionOptions {
  const options: InferenceSession.SessionOptions = {
    executionProviders: providers,
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  // The Node binding flattens `extra` into session config entries
  // 'session.intra_op.allow_spinning' = '0' (and inter_op). The key must be absent, not
  // undefined, when unused: the binding rejects `extra: undefined` from a setImmediate,
  // an uncaught exception rather than a rejected promise.
  if (!spinning) options.extra = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
  return options;
}

/** The session must expose every requested output; a stale cache entry may not. */
function hasOutputs(session: InferenceSession, outputs: string[]): boolean {
  return outputs.every((o) => session.outputNames.includes(o));
}

export class OnnxSession {
  /** The NHWC float32 graph input. */
  readonly inputName: string;
  /** Every graph output: the model's outputs, then the extra layers asked for. */
  readonly outputNames: string[];
  /** True when this session exported the model; false when it reused a cached .onnx. */
  readonly exported: boolean;
  /** The cached .onnx, when cacheKey was given. */
  readonly modelPath?: string;
  readonly threads: number;
  readonly executionProviders: string[];
  private readonly session: InferenceSession;

  private constructor(
    private readonly ort: Ort,
    state: SessionState,
  ) {
    this.session = state.session;
    this.exported = state.exported;
    this.modelPath = state.modelPath;
    this.threads = state.threads;
    this.executionProviders = state.executionProviders;
    this.inputName = state.session.inputNames[0]!;
    this.outputNames = [...state.session.outputNames];
  }

  static async create(model: tf.LayersModel, opts: OnnxSessionOptions = {}): Promise<OnnxSession> {
    const ort = await loadOrt();
    const providers = checkProviders(ort, opts.executionProviders ?? ['cpu']);
    const threads = opts.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw usageError(`threads must be a positive integer. Received: ${threads}`);
    const options = sessionOptions(threads, opts.spinning ?? false, providers);
    const outputs = opts.outputs ?? [];
    const state = { threads, executionProviders: providers };

    if (opts.prebuilt) {
      const session = await ort.InferenceSession.create(opts.prebuilt, options);
      if (!hasOutputs(session, outputs)) {
        await session.release();
        throw usageError(`the prepared ONNX model has no output ${outputs.filter((o) => !session.outputNames.includes(o)).join(', ')}`);
      }
      return new OnnxSession(ort, { ...state, session, exported: false });
    }
    const exportOptions = { outputs, precision: opts.precision ?? 'fp32' };
    if (opts.cacheKey === undefined) {
      const { bytes } = exportToOnnx(model, exportOptions);
      const session = await ort.InferenceSession.create(bytes, options);
      return new OnnxSession(ort, { ...state, session, exported: true });
    }

    if (!opts.cacheDir) throw usageError('OnnxSession: cacheKey needs cacheDir');
    const modelPath = onnxCachePath(opts.cacheDir, opts.cacheKey);
    if (await cachedFileExists(modelPath)) {
      // A cached file that ORT cannot open (truncated by a full disk, older exporter) or
      // that lacks an asked-for output is replaced, not fatal.
      const session = await ort.InferenceSession.create(modelPath, options).catch(() => undefined);
      if (session && hasOutputs(session, outputs)) return new OnnxSession(ort, { ...state, session, exported: false, modelPath });
      await session?.release();
    }
    const { bytes } = exportToOnnx(model, exportOptions);
    await writeAtomically(modelPath, bytes);
    const session = await ort.InferenceSession.create(bytes, options);
    return new OnnxSession(ort, { ...state, session, exported: true, modelPath });
  }

  /**
   * Runs one NHWC batch. `outputs` picks graph outputs by name (default: all). Results
   * are laid out as tfjs returns them: [n, classes], [n, h, w, c]…
   */
  async run(input: Float32Array, shape: [number, number, number, number], outputs?: string[]): Promise<Record<string, OnnxOutput>> {
    const expected = shape.reduce((a, b) => a * b, 1);
    if (input.length !== expected) {
      throw usageError(`OnnxSession.run: input has ${input.length} values, shape [${shape.join(', ')}] needs ${expected}`);
    }
    const fetches = outputs ?? this.outputNames;
    const unknown = fetches.filter((o) => !this.outputNames.includes(o));
    if (unknown.length > 0) {
      throw usageError(`OnnxSession.run: no output named ${unknown.join(', ')}. Outputs are: ${this.outputNames.join(', ')}`);
    }
    const feeds = { [this.inputName]: new this.ort.Tensor('float32', input, shape) };
    let results: InferenceSession.OnnxValueMapType;
    try {
      results = await this.session.run(feeds, fetches);
    } catch (err) {
      throw new BackbonesError('E_MODEL', `ONNX Runtime failed to run the model: ${(err as Error).message}`, { cause: err });
    }
    const out: Record<string, OnnxOutput> = {};
    for (const name of fetches) {
      const t = results[name]!;
      out[name] = { data: t.data as Float32Array, dims: [...t.dims] };
    }
    return out;
  }

  /** Frees the native session. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}
