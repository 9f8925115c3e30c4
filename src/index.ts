// The library under the CLI, small on purpose (after @tensorflow-models/mobilenet):
//
//   import { load } from 'backbones';
//   const model = await load('mobilenet');
//   const top3 = await model.classify('cat.jpg', 3);
//   const vector = await model.extract('cat.jpg', { layer: 'conv_pw_13_relu', pool: 'avg' });
//
// classify, extract and bench use the same pieces: loadBackbone, loadImageForModel,
// classifyBatch, extractBatch.
import { tf } from './runtime/tf.js';
import { initBackend, parseBackendRequest, type BackendChoice } from './runtime/backend.js';
import { loadBackbone, type LoadOptions } from './zoo/load.js';
import type { Backbone, BackboneInfo } from './zoo/backbone.js';
import { loadImageForModel, type LoadImageOptions } from './images/index.js';
import { classifyBatch } from './app/classify.js';
import { extractBatch } from './app/extract.js';
import type { Prediction } from './output/records.js';

export interface Model {
  readonly info: BackboneInfo;
  readonly backend: BackendChoice;
  /** Top-k labels for an image file or its bytes. */
  classify(image: string | Buffer, topK?: number): Promise<Prediction[]>;
  /** The vector of a layer (default: the card's feature layer) for an image. */
  extract(image: string | Buffer, options?: { layer?: string; pool?: 'none' | 'avg' | 'max'; l2?: boolean }): Promise<Float32Array>;
  /** Raw model output for a preprocessed batch [n, h, w, 3]; the caller disposes it. */
  infer(batch: tf.Tensor4D): Promise<tf.Tensor>;
  dispose(): void;
}

export interface ModelOptions extends LoadOptions {
  backend?: 'auto' | 'tensorflow' | 'onnx' | 'wasm' | 'cpu';
  /** Image handling; defaults come from the model card. */
  image?: Partial<Omit<LoadImageOptions, 'size' | 'preprocess'>>;
}

/** Loads a zoo model by name ('vgg16', 'mobilenet', …) or any TF.js model.json path/URL. */
export async function load(model = 'mobilenet', options: ModelOptions = {}): Promise<Model> {
  const backend = await initBackend(parseBackendRequest(options.backend));
  const backbone: Backbone = await loadBackbone(model, options);
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
        return (await classifyBatch(backbone, batch, topK))[0]!;
      } finally {
        batch.dispose();
      }
    },
    async extract(image, { layer, pool = 'none', l2 = false } = {}) {
      const name = layer ?? info.featureLayer;
      if (!name) throw new Error(`${info.name} has no default feature layer: pass { layer }.`);
      const batch = await toBatch(image);
      try {
        return (await extractBatch(backbone, batch, name, pool, l2))[0]!.vector;
      } finally {
        batch.dispose();
      }
    },
    infer: (batch) => backbone.infer(batch),
    dispose: () => backbone.dispose(),
  };
}

export { loadBackbone, initBackend, loadImageForModel, classifyBatch, extractBatch };
export type { LoadOptions, BackboneInfo, Prediction, BackendChoice };
export { listModels, getCard } from './zoo/cards.js';
export { preprocess } from './images/preprocess.js';
