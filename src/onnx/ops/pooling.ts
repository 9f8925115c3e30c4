// Pooling and ZeroPadding2D, NCHW. 'same' pooling gets TensorFlow's asymmetric pads
// explicitly; AveragePool then excludes the padding from the count, as TensorFlow does.
import type { OnnxValue } from '../layout.js';
import { attr } from '../proto.js';
import { pair, requireChannelsLast, windowPads } from './geometry.js';
import type { ConvertArgs, Converter } from './types.js';
import type { ConvertContext } from '../context.js';

function pooling(op: 'MaxPool' | 'AveragePool'): Converter {
  return (ctx, a) => {
    requireChannelsLast(ctx, a.layer, a.config);
    const x = ctx.nchw(a.inputs[0]!);
    const kernel = pair(a.config.poolSize, [2, 2]);
    const strides = pair(a.config.strides, kernel);
    const pads = windowPads(ctx, a.layer, a.config.padding ?? 'valid', x.shape, kernel, strides);
    const attrs = [attr.ints('kernel_shape', kernel), attr.ints('strides', strides), attr.ints('pads', pads)];
    if (op === 'AveragePool') attrs.push(attr.int('count_include_pad', 0));
    const name = ctx.graph.node(op, [x.name], a.base, attrs);
    return { name, layout: 'NCHW', shape: a.outShape };
  };
}

export const convertMaxPooling2D = pooling('MaxPool');
export const convertAveragePooling2D = pooling('AveragePool');

function globalPooling(ctx: ConvertContext, a: ConvertArgs, op: 'GlobalAveragePool' | 'GlobalMaxPool'): OnnxValue {
  requireChannelsLast(ctx, a.layer, a.config);
  const x = ctx.nchw(a.inputs[0]!);
  const keep = Boolean(a.config.keepDims ?? a.config.keepdims);
  if (keep) return { name: ctx.graph.node(op, [x.name], a.base), layout: 'NCHW', shape: a.outShape };
  // [N, C, 1, 1] -> [N, C]: Flatten is a free reshape here.
  const pooled = ctx.graph.node(op, [x.name], `${a.base}_keepdims`);
  return { name: ctx.graph.node('Flatten', [pooled], a.base, [attr.int('axis', 1)]), layout: 'plain', shape: a.outShape };
}

export const convertGlobalAveragePooling2D: Converter = (ctx, a) => globalPooling(ctx, a, 'GlobalAveragePool');
export const convertGlobalMaxPooling2D: Converter = (ctx, a) => globalPooling(ctx, a, 'GlobalMaxPool');

/** ZeroPadding2D ((top, bottom), (left, right)) -> Pad on H and W of the NCHW value. */
export const convertZeroPadding2D: Converter = (ctx, a) => {
  requireChannelsLast(ctx, a.layer, a.config);
  const x = ctx.nchw(a.inputs[0]!);
  const raw = a.config.padding as number | number[] | number[][];
  const [[top, bottom], [left, right]] =
    typeof raw === 'number'
      ? [[raw, raw], [raw, raw]]
      : Array.isArray(raw[0])
        ? (raw as number[][]).map((p) => pair(p, [0, 0]))
        : [pair((raw as number[])[0], [0, 0]), pair((raw as number[])[1], [0, 0])];
  const pads = ctx.graph.int64s(`pads_${top}_${left}_${bottom}_${right}`, [0, 0, top!, left!, 0, 0, bottom!, right!]);
  return { name: ctx.graph.node('Pad', [x.name, pads], a.base), layout: 'NCHW', shape: a.outShape };
};
