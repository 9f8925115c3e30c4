// A loaded model with everything needed to feed it and read it: the object that
// classify, extract and bench share. Built only by loadBackbone (src/zoo/load.ts).
import { tf } from '../tf.js';
import { BackbonesError } from '../errors.js';
import type { ModelCard } from './card.js';
import type { PreprocessMode } from '../images/preprocess.js';
import type { Interpolation, ResizeMode } from '../images/resize.js';
import { imagenetLabels, type Label } from './labels.js';
import { log } from '../log.js';
import type { Engine, Int8Origin, PreparedModel, Precision, PrecisionRequest } from '../engines/types.js';
import { batchIdentity, batchPlanApplies, readBatchTable, subBatchSize, type BatchTable } from '../engines/batch-plan.js';

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
  /** Prepared models by the outputs they expose ('' = the model's own). */
  private readonly prepared = new Map<string, Promise<PreparedModel>>();
  private warnedFallback = false;
  /** What the engine runs: set once a model is prepared. */
  private running: { precision: Precision; int8?: Int8Origin } = { precision: 'fp32' };
  private released = false;
  /** Whether the model's output is already probabilities; decided once. */
  private outputIsProbabilities: boolean | undefined;

  /**
   * `engine` runs the model (it may hand over to another engine for a model it cannot
   * take: ONNX Runtime → TensorFlow.js under auto). `cacheDir`: where the engine may
   * cache what it derives from pretrained weights (the ONNX export). `precision`: what
   * else than fp32 the engine is asked to run (it obtains the int8 model or the fp16
   * export itself). `splitBatches` false: run every batch as given (bench measures sizes).
   */
  constructor(
    readonly info: BackboneInfo,
    readonly model: Model,
    private engine: Engine,
    private readonly options: { cacheDir?: string; precision?: ModelPrecision; splitBatches?: boolean } = {},
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

  /** The engine running this backbone now (its choice describes backend, device, provider, adapter). */
  get currentEngine(): Engine {
    return this.engine;
  }

  /** Raw model output for a batch [n, h, w, 3] of preprocessed pixels; the caller disposes it. */
  async infer(batch: tf.Tensor4D): Promise<tf.Tensor> {
    const prepared = await this.preparedFor([]);
    this.checkWeights(prepared);
    return prepared.run(batch);
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
    // Callers check the layer first (tasks/task.ts layerProblem), each with its own error.
    const prepared = await this.preparedFor([layer]);
    this.checkWeights(prepared);
    return prepared.run(batch, layer);
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

  /** A TensorFlow.js run needs the tfjs weights: they may have been handed to another engine. */
  private checkWeights(prepared: PreparedModel): void {
    if (!prepared.ownsWeights && this.released) throw new BackbonesError('E_INTERNAL', `${this.name}: the TensorFlow.js weights were released.`);
  }

  /** The model prepared on the engine exposing `outputs` (besides its own), made on first use. */
  private preparedFor(outputs: string[]): Promise<PreparedModel> {
    const key = outputs.join('\n');
    let pending = this.prepared.get(key);
    if (!pending) {
      pending = this.prepareOn(outputs);
      this.prepared.set(key, pending);
      // A failed preparation may be retried (e.g. after the caller fixed the request).
      pending.catch(() => this.prepared.delete(key));
    }
    return pending;
  }

  private async prepareOn(outputs: string[]): Promise<PreparedModel> {
    if (this.released) throw new BackbonesError('E_INTERNAL', `${this.name}: the TensorFlow.js weights were released before the model could be prepared for ${this.engineName}.`);
    const cacheDir = this.info.weights.kind !== 'random' ? this.options.cacheDir : undefined;
    const table = await this.batchTable();
    const prepared = await this.engine.prepare(this.model, {
      name: this.name,
      outputs,
      architecture: this.info.card?.architecture ?? this.name,
      ...(cacheDir ? { cacheDir } : {}),
      ...(this.options.precision ? { precision: this.precisionRequest(this.options.precision) } : {}),
      ...(table ? { subBatch: (n: number) => subBatchSize(table.imagesPerSecond, n) } : {}),
    });
    this.running = { precision: prepared.precision, ...(prepared.int8 ? { int8: prepared.int8 } : {}) };
    if (prepared.fallback) {
      if (!this.warnedFallback) log.warn(`${this.name} runs on TensorFlow.js (${tf.getBackend()}) instead of ONNX Runtime: ${prepared.fallback.reason}.`);
      this.warnedFallback = true;
      this.engine = prepared.fallback.engine;
    }
    return prepared;
  }

  /** What calibration needs to know of this model besides its layers; the int8 cache lives beside the ONNX one. */
  private precisionRequest(asked: ModelPrecision): PrecisionRequest {
    const { source, ...request } = asked;
    const cacheDir = this.options.cacheDir;
    return {
      ...request,
      ...(request.int8 || cacheDir ? { int8: { ...request.int8, ...(cacheDir ? { cacheDir } : {}) } } : {}),
      subject: { name: this.name, featureLayer: this.info.featureLayer, images: calibrationImages(this.info), weightsDescription: this.info.weights.description, ...(source ? { source } : {}) },
    };
  }

  /** fp32, or the precision the engine runs once the model is prepared. */
  get precision(): Precision {
    return this.running.precision;
  }

  /** The int8 model the engine runs (--precision int8), once prepared. */
  get int8(): Int8Origin | undefined {
    return this.running.int8;
  }

  private measuredBatches?: Promise<(BatchTable & { file: string }) | undefined>;

  /** The batch sizes measured for this model on this engine (bench wrote them), when batches may be split. */
  private batchTable(): Promise<(BatchTable & { file: string }) | undefined> {
    const choice = this.engine.choice;
    if (this.options.splitBatches === false || !batchPlanApplies(choice) || !this.options.cacheDir) return Promise.resolve(undefined);
    this.measuredBatches ??= readBatchTable(this.options.cacheDir, batchIdentity(this.info, this.options.precision?.precision ?? 'fp32', choice));
    return this.measuredBatches;
  }

  /**
   * How a batch of `requested` images runs: as sub-batches of `size` when a smaller size was
   * measured faster per image on this engine (the table bench wrote); undefined: as asked.
   */
  async batchPlan(requested: number): Promise<{ size: number; requested: number; table: BatchTable & { file: string } } | undefined> {
    const table = await this.batchTable();
    if (!table) return undefined;
    const size = subBatchSize(table.imagesPerSecond, requested);
    return size < requested ? { size, requested, table } : undefined;
  }

  /** Which engine runs inference now: 'onnx' or the tfjs backend's name. */
  get engineName(): string {
    return this.engine.choice.backend === 'onnx' ? 'onnx' : tf.getBackend();
  }

  /** Prepares the model for its own output (and `outputs`) now: load timings include an export, setup errors (int8 calibration) come first. */
  async prepare(outputs: string[] = []): Promise<void> {
    await this.preparedFor(outputs);
  }

  /**
   * Frees the TensorFlow.js copy of the weights once the engine holds its own, so
   * memory figures count one copy (bench). Later calls needing another export fail.
   */
  releaseTfjsWeights(): void {
    if (this.engine.choice.backend !== 'onnx' || this.released) return;
    this.released = true;
    this.model.dispose();
  }

  dispose(): void {
    for (const p of this.prepared.values()) void p.then((m) => m.dispose(), () => undefined);
    this.prepared.clear();
    if (!this.released) this.model.dispose();
    this.released = true;
  }
}

/** A precision other than fp32 as the loader asks it (the Backbone adds what calibration needs of the model). */
export type ModelPrecision = Omit<PrecisionRequest, 'subject'> & { source?: Record<string, string> };

/**
 * How calibration and evaluation images reach the model: its own size, preprocessing,
 * resize and interpolation (a run's --resize or --background do not change which int8
 * model fits the network, and the cache keys on these).
 */
export function calibrationImages(info: Pick<BackboneInfo, 'inputSize' | 'preprocess' | 'resize' | 'interpolation'>) {
  return { size: info.inputSize, preprocess: info.preprocess, resize: info.resize, interpolation: info.interpolation };
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
