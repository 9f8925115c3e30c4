// Cache keys for exported .onnx files: what the model computes (weights + topology) and
// what was asked of the export (outputs), plus the exporter's version.
import { createHash } from 'node:crypto';
import type { tf } from '../tf.js';
import { EXPORTER_VERSION, type ExportPrecision } from './export.js';
import { FP16_VERSION } from './fp16.js';

/**
 * sha256 (hex) over every weight's bytes in layer order, each preceded by its layer
 * name, index, dtype and shape, then the topology JSON. Variable names are left out:
 * tfjs suffixes them (kernel_1) when a model is built twice in one process.
 */
export async function weightsHash(model: tf.LayersModel): Promise<string> {
  const h = createHash('sha256');
  for (const layer of model.layers) {
    for (const [i, w] of layer.weights.entries()) {
      h.update(`${layer.name}#${i}:${w.dtype}:${w.shape.join('x')}\n`);
      const data = await w.read().data();
      h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }
  h.update(JSON.stringify(model.toJSON(null, false)));
  return h.digest('hex');
}

/**
 * A file-safe key for OnnxSession's cacheKey: weights hash, architecture label, the
 * extra outputs (order kept: it is the graph's output order), EXPORTER_VERSION, and for
 * fp16 the precision and FP16_VERSION (an fp32 key is what it was before fp16 existed).
 */
export function onnxCacheKey(parts: { weightsHash: string; architecture: string; outputs?: string[]; precision?: ExportPrecision }): string {
  const h = createHash('sha256');
  const fp16 = parts.precision === 'fp16' ? [['fp16', FP16_VERSION]] : [];
  h.update(JSON.stringify([EXPORTER_VERSION, parts.weightsHash, parts.architecture, parts.outputs ?? [], ...fp16]));
  // A readable prefix that is a valid file name: no leading dots (model paths such as ../models/x).
  const label = parts.architecture.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(0, 40) || 'model';
  return `${label}-${h.digest('hex').slice(0, 32)}`;
}
