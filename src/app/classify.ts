// classify: top-k labels for every image.
import { tf } from '../runtime/tf.js';
import { BackbonesError } from '../errors.js';
import type { Prediction } from '../output/records.js';
import type { Backbone } from '../zoo/backbone.js';
import { executeRun, prepareRun, type ImageRunOptions } from './images-run.js';

export interface ClassifyOptions extends ImageRunOptions {
  topK: number;
}

export async function runClassify(inputs: string[], o: ClassifyOptions): Promise<number> {
  const format = o.format ?? (o.output || !process.stdout.isTTY ? 'jsonl' : 'table');
  if (format === 'npy') throw new BackbonesError('E_USAGE', '--format npy is for extract; classify writes table, jsonl, json or csv.');
  const prepared = await prepareRun(inputs, { ...o, format: o.format ?? (o.output ? undefined : format) }, 'classify', 'jsonl');
  const { backbone } = prepared;
  const compute = (batch: tf.Tensor4D) => classifyBatch(backbone, batch, o.topK);
  return executeRun(prepared, o, 'classify', compute, (path, predictions) => ({ path, model: backbone.name, predictions }));
}

/** Top-k predictions for every image of a preprocessed batch; frees every tensor it makes. */
export async function classifyBatch(backbone: Backbone, batch: tf.Tensor4D, k: number): Promise<Prediction[][]> {
  const probs = backbone.probabilities(batch);
  const classes = probs.shape[1];
  const kk = Math.min(k, classes);
  const { values, indices } = tf.topk(probs, kk);
  const [v, i] = await Promise.all([values.data(), indices.data()]);
  tf.dispose([probs, values, indices]);
  const labels = backbone.labelsFor(classes);
  return Array.from({ length: probs.shape[0] }, (_, row) =>
    Array.from({ length: kk }, (_, j) => {
      const index = i[row * kk + j]!;
      const label = labels?.[index];
      return { index, wnid: label?.wnid ?? null, label: label?.label ?? `class_${index}`, prob: v[row * kk + j]! };
    }),
  );
}
