// Reading Keras weights and rewriting them for ONNX: kernel layouts (HWIO -> OIHW) and
// BatchNormalization folded into the kernel and bias before it.
import type { Layer } from '../walk.js';

export interface Weight {
  shape: number[];
  data: Float32Array;
}

/**
 * The layer's weights in tfjs order (Conv2D: kernel, bias; SeparableConv2D:
 * depthwise_kernel, pointwise_kernel, bias; BatchNormalization: gamma?, beta?,
 * moving_mean, moving_variance). By order, not by name: tfjs suffixes variable names
 * (kernel_1…) when the same model is built twice in one process.
 * The arrays may be the backend's own storage: read them, never write them.
 */
export function readWeights(layer: Layer): Weight[] {
  return layer.weights.map((w) => {
    const data = w.read().dataSync();
    if (!(data instanceof Float32Array)) throw new Error(`weight ${w.name} is not float32`);
    return { shape: [...w.shape] as number[], data };
  });
}

/** Conv2D kernel [kh, kw, in, out] -> ONNX Conv weight [out, in, kh, kw]. */
export function hwioToOihw(k: Weight): Weight {
  const [kh, kw, cin, cout] = k.shape as [number, number, number, number];
  const out = new Float32Array(k.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++) {
        const src = ((y * kw + x) * cin + i) * cout;
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = k.data[src + o]!;
      }
  return { shape: [cout, cin, kh, kw], data: out };
}

/**
 * DepthwiseConv2D kernel [kh, kw, C, M] -> grouped Conv weight [C*M, 1, kh, kw] (group C).
 * Output channel c*M + m, the order TensorFlow's depthwise conv writes its channels in.
 */
export function depthwiseToOihw(k: Weight): Weight {
  const [kh, kw, c, m] = k.shape as [number, number, number, number];
  const out = new Float32Array(k.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let ch = 0; ch < c; ch++)
        for (let j = 0; j < m; j++) out[((ch * m + j) * kh + y) * kw + x] = k.data[((y * kw + x) * c + ch) * m + j]!;
  return { shape: [c * m, 1, kh, kw], data: out };
}

export interface BatchNormParams {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

/** BatchNormalization's weights, with gamma = 1 / beta = 0 where scale / center is off. */
export function batchNormParams(layer: Layer): BatchNormParams {
  const cfg = layer.getConfig() as { scale?: boolean; center?: boolean; epsilon?: number };
  const w = readWeights(layer);
  const scale = cfg.scale ?? true;
  const center = cfg.center ?? true;
  const channels = w[w.length - 1]!.data.length;
  let i = 0;
  const gamma = scale ? w[i++]!.data : new Float32Array(channels).fill(1);
  const beta = center ? w[i++]!.data : new Float32Array(channels);
  return { gamma, beta, mean: w[i]!.data, variance: w[i + 1]!.data, epsilon: cfg.epsilon ?? 1e-3 };
}

/**
 * Folds y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta into the conv: each
 * output channel o of the OIHW weight is scaled by s_o = gamma_o / sqrt(var_o + eps), and
 * the bias becomes (b_o - mean_o) * s_o + beta_o. Computed in float64, stored float32.
 */
export function foldBatchNorm(weight: Weight, bias: Float32Array | undefined, bn: BatchNormParams): { weight: Weight; bias: Float32Array } {
  const outChannels = weight.shape[0]!;
  if (bn.gamma.length !== outChannels) {
    throw new Error(`BatchNormalization has ${bn.gamma.length} channels, the conv ${outChannels}`);
  }
  const per = weight.data.length / outChannels;
  const w = new Float32Array(weight.data.length);
  const b = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    const s = bn.gamma[o]! / Math.sqrt(bn.variance[o]! + bn.epsilon);
    for (let j = o * per; j < (o + 1) * per; j++) w[j] = weight.data[j]! * s;
    b[o] = ((bias ? bias[o]! : 0) - bn.mean[o]!) * s + bn.beta[o]!;
  }
  return { weight: { shape: weight.shape, data: w }, bias: b };
}
