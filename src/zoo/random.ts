// Seeded random weights for `--weights random`: the same network, reproducible,
// with activations that stay finite through deep stacks (He-uniform kernels, zero
// biases, identity batch norm), so timings and shapes are realistic. Values come
// from a small JS PRNG straight into Float32Arrays: VGG16's 138 M weights take
// about a second this way, far less than tf.randomNormal.
import { tf } from '../tf.js';

/** mulberry32: tiny, fast, good enough for weights (and for reproducible test data). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function kernelValues(shape: number[], depthwise: boolean, next: () => number): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  // fan_in of a conv/dense kernel: every dimension but the last (depthwise: kh*kw).
  const fanIn = depthwise ? shape[0]! * shape[1]! : shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const limit = Math.sqrt(6 / Math.max(1, fanIn));
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (next() * 2 - 1) * limit;
  return out;
}

export function randomizeWeights(model: tf.LayersModel, seed = 42): void {
  const next = prng(seed);
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((w) => {
      const name = w.originalName ?? w.name;
      const shape = w.shape as number[];
      if (/moving_variance|gamma/.test(name)) return tf.ones(shape);
      if (/bias|beta|moving_mean/.test(name)) return tf.zeros(shape);
      return tf.tensor(kernelValues(shape, /depthwise/.test(name), next), shape, 'float32');
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}
