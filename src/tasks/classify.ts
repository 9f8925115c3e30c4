// Top-k labels for a batch: shared by classify, its --workers threads and the library.
import { tf } from '../tf.js';
import { log } from '../log.js';
import type { Prediction } from '../output/records.js';
import type { Backbone } from '../zoo/backbone.js';

/** Top-k predictions for every image of a preprocessed batch; frees every tensor it makes. */
export async function classifyBatch(backbone: Backbone, batch: tf.Tensor4D, k: number): Promise<Prediction[][]> {
  const probs = await backbone.probabilities(batch);
  const classes = probs.shape[1];
  const kk = Math.min(k, classes);
  const { values, indices } = tf.topk(probs, kk);
  const [all, v, i] = await Promise.all([probs.data(), values.data(), indices.data()]);
  tf.dispose([probs, values, indices]);
  const labels = backbone.labelsFor(classes);
  hintLabelOffset(backbone, classes, labels);
  return Array.from({ length: probs.shape[0] }, (_, row) => {
    // A NaN anywhere in the row (not only in its top k) marks the row, so the run can stop on it.
    const finite = all.subarray(row * classes, (row + 1) * classes).every(Number.isFinite);
    return Array.from({ length: kk }, (_, j) => {
      const index = i[row * kk + j]!;
      const label = labels?.[index];
      return { index, wnid: label?.wnid ?? null, label: label?.label ?? `class_${index}`, prob: finite ? v[row * kk + j]! : NaN };
    });
  });
}

const hinted = new WeakSet<Backbone>();

/**
 * One more output than labels (1001 for ImageNet's 1000) almost always means a
 * "background" class first, as in TF-Hub models: say how to drop it, once per model.
 */
function hintLabelOffset(backbone: Backbone, classes: number, labels: readonly unknown[] | null): void {
  if (backbone.info.labelOffset !== 0 || hinted.has(backbone)) return;
  const known = labels?.length ?? 1000;
  if (classes !== known + 1) return;
  hinted.add(backbone);
  log.warn(`${backbone.name} has ${classes} outputs for ${known} labels: if output 0 is a "background" class (TF-Hub models), pass --label-offset 1.`);
}
