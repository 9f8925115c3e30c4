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
import { loadImageForModel, type LoadImageOptions } from './images/index.js';
import { classifyBatch } from './tasks/classify.js';
import { extractBatch } from './tasks/extract.js';
import { assertFinite, resultValues } from './tasks/finite.js';
import type { Prediction } from './output/records.js';

export interface Model {
  readonly info: BackboneInfo;
  readonly backend: BackendChoice;
  /** Top-k labels for an image file or its bytes. */
  classify(image: string | Buffer, topK?: number): Promise<Prediction[]>;
  /** The vector of a layer (default: the card's feature layer) for an image. */
  extract(image: string | Buffer, options?: { layer?: string; pool?: Pooling; l2?: boolean }): Promise<Float32Array>;
  /** Raw model output for a preprocessed batch [n, h, w, 3]; the caller disposes it. */
  infer(batch: tf.Tensor4D): Promise<tf.Tensor>;
  dispose(): void;
}

export interface ModelOptions extends Omit<LoadOptions, 'engine'> {
  /** An engine to share between models; else one is started from backend/device/providers/threads. */
  engine?: Engine;
  backend?: BackendRequest;
  /** auto (default; BACKBONES_DEVICE), cpu, or gpu (an error when no GPU works). */
  device?: DeviceRequest;
  /** ONNX Runtime execution providers in order (default: BACKBONES_ONNX_PROVIDERS, else chosen by device). */
  providers?: string[];
  /** ONNX Runtime intra-op threads. */
  threads?: number;
  /** Image handling; defaults come from the model card. */
  image?: Partial<Omit<LoadImageOptions, 'size' | 'preprocess'>>;
}

/** Loads a zoo model by name ('vgg16', 'mobilenet', …) or any TF.js model.json path/URL. */
export async function load(model = 'mobilenet', options: ModelOptions = {}): Promise<Model> {
  const { backend: requested, device, providers, threads, ...loadOptions } = options;
  const engine = options.engine ?? (await startEngine({ backend: requested, device, providers, threads }));
  const backend = engine.choice;
  const backbone: Backbone = await loadBackbone(model, { ...loadOptions, engine });
  const info = backbone.info;
  const toBatch = async (image: string | Buffer) => {
    const img = await loadImageForModel(image, {
      resize: info.resize,
      interpolation: info.interpolation,
      ...options.image,
      size: info.inputSize,
      preprocess: info.preprocess,
    });
    return tf.tensor4d(img.input, [1, ...img.shape]);
  };
  return {
    info,
    backend,
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
      if (!name) throw new BackbonesError('E_USAGE', `${info.name} has no default feature layer: pass { layer }.`);
      const batch = await toBatch(image);
      try {
        const { vector } = (await extractBatch(backbone, batch, name, pool, l2))[0]!;
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

export { loadBackbone, startEngine, loadImageForModel, classifyBatch, extractBatch };
export { probeEngines, engineLine } from './engines/select.js';
export { BACKENDS, BACKEND_CHOICES } from './engines/backends.js';
export { DEVICE_CHOICES } from './engines/devices.js';
export type { LoadOptions, BackboneInfo, Prediction, BackendChoice, Engine, BackendRequest, DeviceRequest };
export type { WebgpuAdapter, WebgpuReport, EngineRequest } from './engines/types.js';
export { listModels, getCard } from './zoo/registry.js';
export { preprocess } from './images/preprocess.js';
export { BackbonesError, type ErrorCode } from './errors.js';
