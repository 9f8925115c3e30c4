// One batch of one lane through the model: the same per-batch functions as
// `backbones classify` and `extract`, so answers equal the CLI's. Runs wherever the
// model lives (the inference thread, or this thread in tests).
import { tf } from '../tf.js';
import type { Backbone, LayerInfo } from '../zoo/backbone.js';
import type { Prediction } from '../output/records.js';
import { classifyBatch } from '../tasks/classify.js';
import { extractBatch, type Features } from '../tasks/extract.js';
import { assertFinite, resultValues } from '../tasks/finite.js';
import type { Pooling } from '../zoo/card.js';
import type { SpecRecord } from '../output/spec-record.js';

/** What one image asks for; batches are homogeneous in everything but classify's k. */
export type Ask =
  | { kind: 'classify'; k: number }
  | { kind: 'extract'; layer: string; pool: Pooling; l2: boolean }
  /** KServe: a raw output ('probabilities' or a layer name), unpooled. */
  | { kind: 'tensor'; output: string };

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export type Answer = Prediction[] | Features | Tensor;

/** What the server needs to know of the model, wherever it runs. */
export interface ModelInfo {
  name: string;
  engineName: string;
  inputSize: [number, number];
  preprocess: Backbone['info']['preprocess'];
  featureLayer: string | null;
  layers: LayerInfo[];
  randomWeights: boolean;
  weights: string;
  /** The run spec's fingerprint and fields (serve's model metadata); absent for a model handed in directly. */
  spec?: SpecRecord;
}

export function modelInfo(backbone: Backbone, spec?: SpecRecord): ModelInfo {
  const i = backbone.info;
  return {
    name: backbone.name,
    engineName: backbone.engineName,
    inputSize: i.inputSize,
    preprocess: i.preprocess,
    featureLayer: i.featureLayer,
    layers: backbone.layers(),
    randomWeights: i.weights.kind === 'random',
    weights: i.weights.description,
    ...(spec ? { spec } : {}),
  };
}

/** Runs `asks.length` images (HWC rows of `data`) as one batch; one answer per image. */
export async function computeBatch(backbone: Backbone, asks: Ask[], data: Float32Array): Promise<Answer[]> {
  const answers = await computeAnswers(backbone, asks, data);
  for (const a of answers) assertFinite(backbone.name, 'a request image', 'data' in a ? a.data : resultValues(a));
  return answers;
}

async function computeAnswers(backbone: Backbone, asks: Ask[], data: Float32Array): Promise<Answer[]> {
  const [h, w] = backbone.info.inputSize;
  const batch = tf.tensor4d(data, [asks.length, h, w, 3]);
  try {
    const ask = asks[0]!;
    if (ask.kind === 'classify') {
      // Top-k is sorted, so the largest k asked serves every smaller one as a prefix.
      const ks = asks.map((a) => (a as { k: number }).k);
      const rows = await classifyBatch(backbone, batch, Math.max(...ks));
      return rows.map((row, i) => row.slice(0, ks[i]));
    }
    if (ask.kind === 'extract') return await extractBatch(backbone, batch, ask.layer, ask.pool, ask.l2);
    const out = ask.output === 'probabilities' ? await backbone.probabilities(batch) : await backbone.features(batch, ask.output);
    const values = (await out.data()) as Float32Array;
    const shape = out.shape.slice(1);
    out.dispose();
    const size = values.length / asks.length;
    return asks.map((_, i) => ({ shape, data: values.slice(i * size, (i + 1) * size) }));
  } finally {
    batch.dispose();
  }
}
