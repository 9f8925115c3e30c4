// Core layers: Dense, Flatten, Reshape and the inference-time identities (Dropout and
// the noise layers). Flatten and Reshape work in Keras' NHWC order so that the Dense
// weights after them keep their meaning.
import { kerasLayout, isPointSpatial, type OnnxValue } from '../layout.js';
import { attr } from '../proto.js';
import { applyActivation } from './activation.js';
import type { Converter } from './types.js';
import { readWeights } from './weights.js';

/** Dropout, SpatialDropout, GaussianNoise…: identity at inference. */
export const convertIdentity: Converter = (_ctx, a) => a.inputs[0]!;

/**
 * Flatten in Keras (NHWC) order: a rank-4 NCHW value is transposed back first, except
 * at 1x1 spatial size where both orders are the same bytes.
 */
export const convertFlatten: Converter = (ctx, a) => {
  const input = a.inputs[0]!;
  if (input.shape.length === 2) return input;
  const x = isPointSpatial(input.shape) ? input : ctx.kerasOrder(input);
  const name = ctx.graph.node('Flatten', [x.name], a.base, [attr.int('axis', 1)]);
  return { name, layout: 'plain', shape: a.outShape };
};

/** Reshape on the Keras-ordered value; 0 keeps the (dynamic) batch dimension. */
export const convertReshape: Converter = (ctx, a) => {
  const input = a.inputs[0]!;
  const x = isPointSpatial(input.shape) && input.layout === 'NCHW' ? input : ctx.kerasOrder(input);
  const target = ((a.config.targetShape as Array<number | null>) ?? []).map((d) => (d == null ? -1 : d));
  const shape = [0, ...target];
  const name = ctx.graph.node('Reshape', [x.name, ctx.graph.int64s(`shape_${shape.join('_')}`, shape)], a.base);
  const out: OnnxValue = { name, layout: kerasLayout(a.outShape), shape: a.outShape };
  return out;
};

/**
 * Dense: Gemm on [N, F] input; on higher ranks Keras applies the kernel to the last
 * axis, so the value goes to Keras order and gets MatMul + Add.
 */
export const convertDense: Converter = (ctx, a) => {
  const g = ctx.graph;
  const [kernel, bias] = readWeights(a.layer);
  const useBias = a.config.useBias !== false && bias !== undefined;
  const w = g.floats(`${a.base}_W`, kernel!.shape, kernel!.data);
  const b = useBias ? g.floats(`${a.base}_B`, bias!.shape, bias!.data) : undefined;
  const input = a.inputs[0]!;
  let value: OnnxValue;
  if (input.shape.length === 2) {
    const name = g.node('Gemm', b ? [input.name, w, b] : [input.name, w], a.base);
    value = { name, layout: 'plain', shape: a.outShape };
  } else {
    const x = ctx.kerasOrder(input);
    let name = g.node('MatMul', [x.name, w], b ? `${a.base}_matmul` : a.base);
    if (b) name = g.node('Add', [name, b], a.base);
    value = { name, layout: kerasLayout(a.outShape), shape: a.outShape };
  }
  return applyActivation(ctx, a.layer, value, a.config.activation, `${a.base}_act`);
};
