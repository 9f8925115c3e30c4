// Merge layers (tfjs has no Subtract): Add, Multiply, Average, Maximum, Minimum, Concatenate. Inputs
// are brought to one layout first (NCHW for rank 4), so the axes line up.
import type { ConvertContext } from '../context.js';
import { onnxAxis, type OnnxValue } from '../layout.js';
import { attr } from '../proto.js';
import type { ConvertArgs, Converter } from './types.js';

function unify(ctx: ConvertContext, a: ConvertArgs): OnnxValue[] {
  const ranks = new Set(a.inputs.map((v) => v.shape.length));
  if (ranks.size !== 1) throw ctx.error(a.layer, `inputs of different ranks (${[...ranks].join(', ')}) are not supported`);
  return a.inputs.map((v) => (v.shape.length === 4 ? ctx.nchw(v) : v));
}

/** An n-ary elementwise merge: ONNX Sum/Mean/Max/Min take any number of inputs. */
function elementwise(op: string): Converter {
  return (ctx, a) => {
    const xs = unify(ctx, a);
    const name = ctx.graph.node(op, xs.map((x) => x.name), a.base);
    return { name, layout: xs[0]!.layout, shape: a.outShape };
  };
}

/** Add/Mul chained pairwise (two inputs, the usual case, is one node ORT can fuse). */
function chained(op: 'Add' | 'Mul'): Converter {
  return (ctx, a) => {
    const xs = unify(ctx, a);
    let acc = xs[0]!.name;
    for (let i = 1; i < xs.length; i++) {
      acc = ctx.graph.node(op, [acc, xs[i]!.name], i === xs.length - 1 ? a.base : `${a.base}_${i}`);
    }
    return { name: acc, layout: xs[0]!.layout, shape: a.outShape };
  };
}

export const convertAdd = chained('Add');
export const convertMultiply = chained('Mul');
export const convertAverage = elementwise('Mean');
export const convertMaximum = elementwise('Max');
export const convertMinimum = elementwise('Min');

/** Concatenate on its Keras axis (default -1: channels, ONNX axis 1 in NCHW). */
export const convertConcatenate: Converter = (ctx, a) => {
  const xs = unify(ctx, a);
  const axis = onnxAxis((a.config as { axis?: number }).axis ?? -1, xs[0]!.shape, xs[0]!.layout);
  const name = ctx.graph.node('Concat', xs.map((x) => x.name), a.base, [attr.int('axis', axis)]);
  return { name, layout: xs[0]!.layout, shape: a.outShape };
};
