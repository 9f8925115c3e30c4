// The library under the CLI, small on purpose (after @tensorflow-models/mobilenet):
//
//   import { load } from 'backbones';
//   const model = await load('mobilenet');
//   const top3 = await model.classify('cat.jpg', 3);
//   const vector = await model.extract('cat.jpg', { layer: 'conv_pw_13_relu', pool: 'avg' });
//
// classify, extract and bench use the same pieces: startEngine, loadBackbone,
// loadImageForModel, classifyBatch, extractBatch.
//   const engine = await startEngine({ device: 'gpu' });   // or { providers: ['webgpu'] }
//   const model = await load('resnet50', { engine });
import { BackbonesError } from './errors.js';
import { tf } from './tf.js';
import { startEngine } from './engines/select.js';
import type { BackendChoice, DeviceRequest, Engine } from './engines/types.js';
import type { BackendRequest } from './engines/backends.js';
import { loadBackbone, type LoadOptions } from './zoo/load.js';
import type { Backbone, BackboneInfo } from './zoo/backbone.js';
import type { Pooling } from './zoo/card.js';
import { loadImageForModel } from './images/index.js';
import { resolveSpec, type RunSpec, type SpecOptions } from './spec/spec.js';
import { imageSettingsOf, loadForSpec, recordOf } from './spec/load.js';
import type { SpecRecord } from './spec/fingerprint.js';
import { layerProblem } from './tasks/layers.js';
import { classifyBatch } from './tasks/classify.js';
import { extractBatch } from './tasks/extract.js';
import { assertFinite, resultValues } from './tasks/finite.js';
import type { Prediction } from './output/records.js';

export interface Model {
  readonly info: BackboneInfo;
  readonly backend: BackendChoice;
  /** The resolved, checked spec the model was loaded with. */
  readonly spec: RunSpec;
  /**
   * What to record with a result of this model (its fingerprint and fields, see
   * docs/run-spec.md); pass the extract options to include the task.
   */
  record(task?: { layer?: string; pool?: Pooling; l2?: boolean }): SpecRecord;
  /** Top-k labels for an image file or its bytes. */
  classify(image: string | Buffer, topK?: number): Promise<Prediction[]>;
  /** The vector of a layer (default: the card's feature layer) for an image. */
  extract(image: string | Buffer, options?: { layer?: string; pool?: Pooling; l2?: boolean }): Promise<Float32Array>;
  /** Raw model output for a preprocessed batch [n, h, w, 3]; the caller disposes it. */
  infer(batch: tf.Tensor4D): Promise<tf.Tensor>;
  dispose(): void;
}

/** The spec's options (checked as the CLI checks them: a bad value throws before anything starts), and an engine to share. */
export interface ModelOptions extends Omit<SpecOptions, 'model' | 'layer' | 'pool' | 'l2' | 'topK' | 'batchSize' | 'workers' | 'decodeThreads' | 'prefetchMb'> {
  /** An engine to share between models; else one is started from backend/device/provider/threads. */
  engine?: Engine;
  /** false: never download weights. */
  allowDownload?: boolean;
}

/** Loads a zoo model by name ('vgg16', 'mobilenet', …) or any TF.js model.json path/URL. */
export async function load(model = 'mobilenet', options: ModelOptions = {}): Promise<Model> {
  const { engine: given, allowDownload, ...rest } = options;
  // The same spec and checks as the CLI's: a bad option throws before anything starts.
  const spec = await resolveSpec({ ...rest, model });
  const engine = given ?? (await startEngine(spec.engine));
  const backend = engine.choice;
  const backbone: Backbone = await loadForSpec(spec, engine, allowDownload !== undefined ? { allowDownload } : {});
  const info = backbone.info;
  const settings = imageSettingsOf(spec, info);
  const toBatch = async (image: string | Buffer) => {
    const img = await loadImageForModel(image, settings);
    return tf.tensor4d(img.input, [1, ...img.shape]);
  };
  return {
    info,
    backend,
    spec,
    record: (task) =>
      recordOf(task ? { ...spec, task: { kind: 'extract', layer: task.layer ?? info.featureLayer ?? undefined, pool: task.pool ?? 'none', l2: Boolean(task.l2) } } : spec, backbone),
    async classify(image, topK = 5) {
      const batch = await toBatch(image);
      try {
        const predictions = (await classifyBatch(backbone, batch, topK))[0]!;
        assertFinite(info.name, 'the image', resultValues(predictions));
        return predictions;
      } finally {
        batch.dispose();
      }
    },
    async extract(image, { layer, pool = 'none', l2 = false } = {}) {
      const name = layer ?? info.featureLayer;
      const problem = layerProblem({ name: info.name, layers: backbone.layers() }, name, pool, `pool: '${pool}'`);
      if (problem) throw new BackbonesError('E_USAGE', problem);
      const batch = await toBatch(image);
      try {
        const { vector } = (await extractBatch(backbone, batch, name!, pool, l2))[0]!;
        assertFinite(info.name, 'the image', vector);
        return vector;
      } finally {
        batch.dispose();
      }
    },
    infer: (batch) => backbone.infer(batch),
    dispose: () => backbone.dispose(),
  };
}

export { loadBackbone, startEngine, loadImageForModel, classifyBatch, extractBatch, resolveSpec };
export { specFields, fingerprintOf, specRecord, differences, type SpecFields, type SpecRecord } from './spec/fingerprint.js';
export type { RunSpec, SpecOptions };
export { probeEngines, engineLine } from './engines/select.js';
export { BACKENDS, BACKEND_CHOICES } from './engines/backends.js';
export { DEVICE_CHOICES } from './engines/devices.js';
export type { LoadOptions, BackboneInfo, Prediction, BackendChoice, Engine, BackendRequest, DeviceRequest };
export type { WebgpuAdapter, WebgpuReport, EngineRequest } from './engines/types.js';
export { listModels, getCard } from './zoo/registry.js';
export { preprocess } from './images/preprocess.js';
export { BackbonesError, type ErrorCode } from './errors.js';
