// One vector per image from a named layer: shared by extract, its --workers threads and the library.
import { tf } from '../tf.js';
import { BackbonesError } from '../errors.js';
import type { Backbone } from '../zoo/backbone.js';
import type { Pooling } from '../zoo/card.js';
import { poolingProblem } from './layers.js';

export interface Features {
  shape: number[];
  vector: Float32Array;
}

/** One vector per image of a batch from a named layer, pooled and normalised as asked; frees its tensors. */
export async function extractBatch(backbone: Backbone, batch: tf.Tensor4D, layer: string, pool: Pooling, l2: boolean): Promise<Features[]> {
  const raw = await backbone.features(batch, layer);
  const layerShape = raw.shape.slice(1);
  // The shape of the vector written: pooling leaves the channels only.
  const shape = pool === 'none' ? layerShape : layerShape.slice(-1);
  let vectors: tf.Tensor2D;
  try {
    vectors = tf.tidy(() => {
      let v: tf.Tensor = raw;
      if (pool !== 'none') {
        if (v.rank !== 4) throw new BackbonesError('E_USAGE', poolingProblem(`--pool ${pool}`, layer, layerShape));
        v = pool === 'avg' ? v.mean([1, 2]) : v.max([1, 2]);
      }
      v = v.reshape([v.shape[0]!, -1]);
      if (l2) v = v.div(v.norm('euclidean', 1, true).maximum(1e-12));
      return v as tf.Tensor2D;
    });
  } finally {
    raw.dispose();
  }
  const data = (await vectors.data()) as Float32Array;
  const [n, d] = vectors.shape;
  vectors.dispose();
  return Array.from({ length: n }, (_, i) => ({ shape, vector: data.slice(i * d, (i + 1) * d) }));
}
