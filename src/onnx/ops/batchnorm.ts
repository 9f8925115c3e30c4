// A BatchNormalization that could not be folded into a conv (its input has other
// consumers, is exposed as an output, or comes from a non-conv layer): an ONNX
// BatchNormalization node on the channel axis, which ONNX fixes at axis 1.
import type { OnnxValue } from '../layout.js';
import { attr } from '../proto.js';
import type { Converter } from './types.js';
import { batchNormParams } from './weights.js';

export const convertBatchNormalization: Converter = (ctx, a) => {
  const g = ctx.graph;
  const input = a.inputs[0]!;
  const rank = input.shape.length;
  const axis = (a.config as { axis?: number }).axis ?? -1;
  if (axis !== -1 && axis !== rank - 1) throw ctx.error(a.layer, `axis ${axis} is not supported (only the channel axis)`);
  if (rank !== 4 && rank !== 2) throw ctx.error(a.layer, `rank-${rank} input is not supported (rank 2 or 4)`);
  const x = rank === 4 ? ctx.nchw(input) : input;
  const p = batchNormParams(a.layer);
  const c = [p.gamma.length];
  const name = g.node(
    'BatchNormalization',
    [
      x.name,
      g.floats(`${a.base}_gamma`, c, p.gamma),
      g.floats(`${a.base}_beta`, c, p.beta),
      g.floats(`${a.base}_mean`, c, p.mean),
      g.floats(`${a.base}_var`, c, p.variance),
    ],
    a.base,
    [attr.float('epsilon', p.epsilon)],
  );
  const out: OnnxValue = { name, layout: x.layout, shape: a.outShape };
  return out;
};
