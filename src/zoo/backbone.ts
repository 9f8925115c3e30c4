// A loaded model with everything needed to feed it and read it: the object that
// classify, extract and bench share. Built only by loadBackbone (src/zoo/load.ts).
import { tf } from '../runtime/tf.js';
import { BackbonesError } from '../errors.js';
import type { Interpolation, ModelCard, PreprocessMode, ResizeMode } from './card.js';
import { imagenetLabels, type Label } from './labels.js';
import { log } from '../log.js';
import { switchTfjsToWasm } from '../runtime/backend.js';
import type { OnnxEngine } from '../onnx/engine.js';
import { int8ModelBytes, type Int8Settings } from './int8.js';

export interface WeightsInfo {
  /** imagenet: the card's pretrained weights; random: seeded init; file: --weights PATH; model: the model file's own. */
  kind: 'imagenet' | 'random' | 'file' | 'model';
  /** Where they came from (path or URL) and how they were matched. */
  description: string;
  matchedBy?: 'name' | 'order';
}

export interface BackboneInfo {
  /** Zoo name, or the model path/URL as given. */
  name: string;
  source: 'zoo' | 'layers-model' | 'graph-model';
  card: ModelCard | null;
  inputSize: [number, number];
  preprocess: PreprocessMode;
  interpolation: Interpolation;
  resize: ResizeMode;
  /** Default layer for extract: the card's, else null (the model's output). */
  featureLayer: string | null;
  parameters: number;
  /** Multiply-adds per image; null where they cannot be counted (graph models). */
  macs: number | null;
  weights: WeightsInfo;
  labels: Label[] | null;
  /** Leading outputs dropped before labels (1 for 1001-class TF-Hub graphs). */
  labelOffset: number;
}

/** Which engine runs inference: TensorFlow.js, or ONNX Runtime on an export of the model. */
export type EngineSettings =
  | { kind: 'tfjs' }
  | {
      kind: 'onnx';
      threads: number;
      executionProviders?: string[];
      /** Where exported .onnx files are cached (pretrained weights only). */
      cacheDir?: string;
      /** auto: a model the exporter cannot handle runs on tfjs instead; explicit onnx: error. */
      fallbackToTfjs: boolean;
      /** --precision int8: where the int8 model comes from (src/zoo/int8.ts). */
      int8?: Int8Settings;
    };

/** One ONNX Runtime call on a tfjs batch; returns the named output as a tfjs tensor. */
async function runOnnx(engine: OnnxEngine, batch: tf.Tensor4D, output: string): Promise<tf.Tensor> {
  const input = (await batch.data()) as Float32Array;
  const out = (await engine.run(input, batch.shape as [number, number, number, number], [output]))[output]!;
  return tf.tensor(out.data, out.dims, 'float32');
}

export interface LayerInfo {
  name: string;
  className: string;
  /** Output shape without the batch dimension; null when unknown (graph nodes). */
  outputShape: number[] | null;
  parameters: number;
}

type Model = tf.LayersModel | tf.GraphModel;

function isLayersModel(m: Model): m is tf.LayersModel {
  return m instanceof tf.LayersModel;
}

export class Backbone {
  private readonly extractors = new Map<string, tf.LayersModel>();
  private readonly onnxEngines = new Map<string, Promise<OnnxEngine | null>>();
  private liveEngines: OnnxEngine[] = [];
  private warnedFallback = false;
  /** 'int8' once an engine runs an int8 model. */
  private runningPrecision: 'fp32' | 'int8' = 'fp32';
  private released = false;
  /** Whether the model's output is already probabilities; decided once. */
  private outputIsProbabilities: boolean | undefined;

  constructor(
    readonly info: BackboneInfo,
    readonly model: Model,
    private engine: EngineSettings = { kind: 'tfjs' },
  ) {
    if (isLayersModel(model)) {
      const last = model.layers[model.layers.length - 1]!;
      const activation = (last.getConfig() as { activation?: string }).activation;
      if (activation === 'softmax' || last.getClassName() === 'Softmax') this.outputIsProbabilities = true;
    }
  }

  get name(): string {
    return this.info.name;
  }

  /** Raw model output for a batch [n, h, w, 3] of preprocessed pixels; the caller disposes it. */
  async infer(batch: tf.Tensor4D): Promise<tf.Tensor> {
    const onnx = await this.onnxEngine([]);
    if (onnx) return runOnnx(onnx, batch, onnx.outputNames[0]!);
    return this.inferTfjs(batch);
  }

  private inferTfjs(batch: tf.Tensor4D): tf.Tensor {
    if (this.released) throw new BackbonesError('E_INTERNAL', `${this.name}: the TensorFlow.js weights were released.`);
    const out = isLayersModel(this.model) ? this.model.predict(batch) : this.model.predict(batch);
    if (Array.isArray(out)) {
      tf.dispose(out.slice(1));
      return out[0]!;
    }
    if (!(out instanceof tf.Tensor)) throw new BackbonesError('E_MODEL', `${this.name}: the model returned named outputs; pass a model with one output.`);
    return out;
  }

  /** Class probabilities [n, classes] with the label offset removed (softmax applied to logits). */
  async probabilities(batch: tf.Tensor4D): Promise<tf.Tensor2D> {
    const raw = await this.infer(batch);
    const probs = tf.tidy(() => {
      let out = raw;
      if (out.rank !== 2) out = out.reshape([out.shape[0]!, -1]);
      const offset = this.info.labelOffset;
      if (this.outputIsProbabilities === undefined) this.outputIsProbabilities = looksLikeProbabilities(out as tf.Tensor2D);
      let probs = this.outputIsProbabilities ? out : tf.softmax(out);
      if (offset > 0) {
        probs = probs.slice([0, offset], [-1, -1]);
        // Renormalise over the real classes (the dropped background logit held some mass).
        probs = probs.div(probs.sum(1, true));
      }
      return probs as tf.Tensor2D;
    });
    // probs may be raw itself (already probabilities, nothing sliced).
    if (probs !== raw) raw.dispose();
    return probs;
  }

  /**
   * Labels for a probability vector of `classes` entries: the model's own, else
   * ImageNet's when there are exactly 1000 classes (a graph model's output size is
   * only known once it has run), else null.
   */
  labelsFor(classes: number): Label[] | null {
    if (this.info.labels) return this.info.labels;
    if (classes === 1000) this.info.labels = imagenetLabels();
    return this.info.labels;
  }

  hasLayer(name: string): boolean {
    if (isLayersModel(this.model)) return this.model.layers.some((l) => l.name === name);
    return graphNodes(this.model).some((n) => n.name === name);
  }

  /** Output of a named layer for the batch (e.g. fc2 [n, 4096], block5_pool [n, 7, 7, 512]). */
  async features(batch: tf.Tensor4D, layer: string): Promise<tf.Tensor> {
    if (!this.hasLayer(layer)) {
      throw new BackbonesError('E_USAGE', `${this.name} has no layer "${layer}"; list them with \`backbones models info ${this.name} --layers\`.`);
    }
    const onnx = await this.onnxEngine([layer]);
    if (onnx) return runOnnx(onnx, batch, layer);
    if (this.released) throw new BackbonesError('E_INTERNAL', `${this.name}: the TensorFlow.js weights were released.`);
    if (!isLayersModel(this.model)) return this.model.execute(batch, layer) as tf.Tensor;
    let extractor = this.extractors.get(layer);
    if (!extractor) {
      const target = this.model.getLayer(layer);
      extractor = tf.model({ inputs: this.model.inputs, outputs: target.output as tf.SymbolicTensor });
      this.extractors.set(layer, extractor);
    }
    return extractor.predict(batch) as tf.Tensor;
  }

  layers(): LayerInfo[] {
    if (isLayersModel(this.model)) {
      return this.model.layers.map((l) => {
        const shape = l.outputShape as (number | null)[] | (number | null)[][];
        const first = Array.isArray(shape[0]) ? (shape[0] as (number | null)[]) : (shape as (number | null)[]);
        return { name: l.name, className: l.getClassName(), outputShape: first.slice(1).map((d) => d ?? -1), parameters: l.countParams() };
      });
    }
    return graphNodes(this.model).map((n) => ({ name: n.name, className: n.op, outputShape: null, parameters: 0 }));
  }

  /**
   * The ONNX Runtime engine exposing `outputs` (besides the model's own), created on
   * first use; null when this backbone runs on TensorFlow.js. Under --backend auto a
   * model the exporter cannot handle falls back to tfjs with a warning; under
   * --backend onnx it is an error.
   */
  private onnxEngine(outputs: string[]): Promise<OnnxEngine | null> {
    const engine = this.engine;
    if (engine.kind !== 'onnx') return Promise.resolve(null);
    const key = outputs.join('\n');
    let pending = this.onnxEngines.get(key);
    if (!pending) {
      pending = this.createOnnxEngine(engine, outputs);
      this.onnxEngines.set(key, pending);
    }
    return pending;
  }

  private async createOnnxEngine(engine: Extract<EngineSettings, { kind: 'onnx' }>, outputs: string[]): Promise<OnnxEngine | null> {
    const fallback = async (why: string): Promise<null> => {
      if (!engine.fallbackToTfjs) throw new BackbonesError('E_BACKEND', `${this.name} cannot run on the onnx backend: ${why}. Use --backend wasm.`);
      await switchTfjsToWasm();
      if (!this.warnedFallback) log.warn(`${this.name} runs on TensorFlow.js (${tf.getBackend()}) instead of ONNX Runtime: ${why}.`);
      this.warnedFallback = true;
      this.engine = { kind: 'tfjs' };
      return null;
    };
    if (!isLayersModel(this.model)) return fallback('graph models cannot be exported to ONNX (the exporter reads Keras layers)');
    if (this.released) throw new BackbonesError('E_INTERNAL', `${this.name}: the TensorFlow.js weights were released before the ONNX export.`);
    const { OnnxEngine, OnnxExportError, weightsHash, onnxCacheKey } = await import('../onnx/index.js');
    try {
      // Only pretrained weights are worth a cached .onnx; random ones change with --seed.
      const prebuilt = engine.int8
        ? await int8ModelBytes(this.info, this.model, { ...engine.int8, cacheDir: engine.cacheDir, threads: engine.threads }, outputs, engine.fallbackToTfjs)
        : undefined;
      const cacheKey = !prebuilt && engine.cacheDir && this.info.weights.kind !== 'random'
        ? onnxCacheKey({ weightsHash: await weightsHash(this.model), architecture: this.info.card?.architecture ?? this.name, outputs })
        : undefined;
      const created = await OnnxEngine.create(this.model, {
        outputs,
        threads: engine.threads,
        executionProviders: engine.executionProviders,
        ...(prebuilt ? { prebuilt } : cacheKey ? { cacheKey, cacheDir: engine.cacheDir } : {}),
      });
      if (prebuilt) this.runningPrecision = 'int8';
      log.debug(`${this.name}: ONNX ${prebuilt ? 'int8 model' : created.exported ? 'exported' : 'reused from cache'}${created.modelPath ? ` (${created.modelPath})` : ''}, ${created.threads} threads, providers ${created.executionProviders.join(',')}`);
      this.liveEngines.push(created);
      return created;
    } catch (e) {
      if (e instanceof OnnxExportError) return fallback(e.message);
      throw e;
    }
  }

  /** fp32, or int8 once an int8 ONNX model runs (--precision int8). */
  get precision(): 'fp32' | 'int8' {
    return this.runningPrecision;
  }

  /** Which engine runs inference now: 'onnx' or the tfjs backend's name. */
  get engineName(): string {
    return this.engine.kind === 'onnx' ? 'onnx' : tf.getBackend();
  }

  /** Creates the ONNX session for the model's output (and `outputs`) now: load timings include the export, setup errors come first. */
  async prepare(outputs: string[] = []): Promise<void> {
    await this.onnxEngine(outputs);
  }

  /**
   * Frees the TensorFlow.js copy of the weights once ONNX Runtime holds its own, so
   * memory figures count one copy (bench). Later calls needing another export fail.
   */
  releaseTfjsWeights(): void {
    if (this.engine.kind !== 'onnx' || this.released) return;
    this.released = true;
    this.extractors.clear();
    this.model.dispose();
  }

  dispose(): void {
    this.extractors.clear();
    for (const e of this.liveEngines) void e.dispose();
    this.liveEngines = [];
    if (!this.released) this.model.dispose();
    this.released = true;
  }
}

function looksLikeProbabilities(out: tf.Tensor2D): boolean {
  return tf.tidy(() => {
    const min = out.min().dataSync()[0]!;
    const sums = out.sum(1).dataSync();
    return min >= 0 && Array.from(sums).every((s) => Math.abs(s - 1) < 1e-3);
  });
}

/** Graph nodes in execution order; tfjs keeps them on its (non-public) executor. */
function graphNodes(model: tf.GraphModel): { name: string; op: string }[] {
  const executor = (model as unknown as { executor?: { graph?: { nodes?: Record<string, { name: string; op: string }> } } }).executor;
  return Object.values(executor?.graph?.nodes ?? {}).filter((n) => n.op !== 'Const');
}
