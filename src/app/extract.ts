// extract: the output of a named layer for every image, as one vector each.
import { tf } from '../runtime/tf.js';
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import type { Backbone } from '../zoo/backbone.js';
import { executeRun, prepareRun, type ImageRunOptions } from './images-run.js';

export interface ExtractOptions extends ImageRunOptions {
  layer?: string;
  pool: 'none' | 'avg' | 'max';
  l2?: boolean;
}

export interface Features {
  shape: number[];
  vector: Float32Array;
}

export async function runExtract(inputs: string[], o: ExtractOptions): Promise<number> {
  const prepared = await prepareRun(inputs, o, 'extract', 'jsonl');
  const { backbone } = prepared;
  const layer = o.layer ?? backbone.info.featureLayer;
  if (!layer) {
    throw new BackbonesError('E_USAGE', `${backbone.name} has no default feature layer: pass --layer (see \`backbones models info ${backbone.name} --layers\`).`);
  }
  if (!backbone.hasLayer(layer)) {
    backbone.dispose();
    throw new BackbonesError('E_USAGE', `${backbone.name} has no layer "${layer}"; list them with \`backbones models info ${backbone.name} --layers\`.`);
  }
  log.info(`layer: ${layer}${o.pool !== 'none' ? `, ${o.pool}-pooled` : ''}${o.l2 ? ', L2-normalised' : ''}`);
  const compute = (batch: tf.Tensor4D) => extractBatch(backbone, batch, layer, o.pool, Boolean(o.l2));
  return executeRun(prepared, o, 'extract', compute, (path, f) => ({ path, model: backbone.name, layer, shape: f.shape, vector: f.vector }));
}

/** One vector per image of a batch from a named layer, pooled and normalised as asked; frees its tensors. */
export async function extractBatch(backbone: Backbone, batch: tf.Tensor4D, layer: string, pool: 'none' | 'avg' | 'max', l2: boolean): Promise<Features[]> {
  const raw = backbone.features(batch, layer);
  const shape = raw.shape.slice(1);
  let vectors: tf.Tensor2D;
  try {
    vectors = tf.tidy(() => {
      let v: tf.Tensor = raw;
      if (pool !== 'none') {
        if (v.rank !== 4) throw new BackbonesError('E_USAGE', `--pool ${pool} needs a spatial layer [h, w, c]; ${layer} gives [${shape.join(', ')}].`);
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
