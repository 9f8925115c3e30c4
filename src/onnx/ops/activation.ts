// Activations: the Activation layer, the fused `activation` of Conv/Dense, and the
// activation layers (ReLU, LeakyReLU, ELU, Softmax). All are elementwise and work in any
// layout except softmax, whose Keras axis is mapped onto the value's layout.
import type { ConvertContext } from '../context.js';
import { onnxAxis, type OnnxValue } from '../layout.js';
import { attr } from '../proto.js';
import type { Layer } from '../walk.js';
import type { Converter } from './types.js';

function same(v: OnnxValue, name: string): OnnxValue {
  return { name, layout: v.layout, shape: v.shape };
}

function clip(ctx: ConvertContext, v: OnnxValue, min: number, max: number, base: string): OnnxValue {
  const g = ctx.graph;
  return same(v, g.node('Clip', [v.name, g.scalar(`const_${min}`, min), g.scalar(`const_${max}`, max)], base));
}

function softmax(ctx: ConvertContext, v: OnnxValue, kerasAxis: number, base: string): OnnxValue {
  return same(v, ctx.graph.node('Softmax', [v.name], base, [attr.int('axis', onnxAxis(kerasAxis, v.shape, v.layout))]));
}

/** Keras activation names the exporter knows, in tfjs' spelling without case or '_'. */
export const ACTIVATIONS = ['linear', 'relu', 'relu6', 'sigmoid', 'hardsigmoid', 'tanh', 'softmax', 'swish', 'elu', 'selu', 'softplus', 'softsign', 'mish'];

/** Applies a Keras activation by name ('relu6', 'hard_sigmoid', 'hardSigmoid'…). */
export function applyActivation(ctx: ConvertContext, layer: Layer, v: OnnxValue, activation: unknown, base: string): OnnxValue {
  const g = ctx.graph;
  const name = String(activation ?? 'linear').toLowerCase().replace(/_/g, '');
  const unary = (op: string, attrs = [] as ReturnType<typeof attr.float>[]) => same(v, g.node(op, [v.name], base, attrs));
  switch (name) {
    case 'linear':
      return v;
    case 'relu':
      return unary('Relu');
    case 'relu6':
      return clip(ctx, v, 0, 6, base);
    case 'sigmoid':
      return unary('Sigmoid');
    case 'hardsigmoid':
      // tfjs and Keras: clip(0.2 x + 0.5, 0, 1), ONNX HardSigmoid's defaults made explicit.
      return unary('HardSigmoid', [attr.float('alpha', 0.2), attr.float('beta', 0.5)]);
    case 'tanh':
      return unary('Tanh');
    case 'softmax':
      return softmax(ctx, v, -1, base);
    case 'swish': {
      const s = g.node('Sigmoid', [v.name], `${base}_sigmoid`);
      return same(v, g.node('Mul', [v.name, s], base));
    }
    case 'elu':
      return unary('Elu', [attr.float('alpha', 1)]);
    case 'selu':
      return unary('Selu');
    case 'softplus':
      return unary('Softplus');
    case 'softsign':
      return unary('Softsign');
    case 'mish': {
      const sp = g.node('Softplus', [v.name], `${base}_softplus`);
      const t = g.node('Tanh', [sp], `${base}_tanh`);
      return same(v, g.node('Mul', [v.name, t], base));
    }
    default:
      throw ctx.error(layer, `activation '${String(activation)}' is not supported (supported: ${ACTIVATIONS.join(', ')})`);
  }
}

export const convertActivation: Converter = (ctx, a) => applyActivation(ctx, a.layer, a.inputs[0]!, a.config.activation, a.base);

/** ReLU(max_value): Relu, or Clip(0, max_value) (ReLU(6.) in MobileNet). */
export const convertReLU: Converter = (ctx, a) => {
  const cfg = a.config as { maxValue?: number | null; negativeSlope?: number; threshold?: number };
  if (cfg.negativeSlope || cfg.threshold) {
    throw ctx.error(a.layer, 'ReLU with negative_slope or threshold is not supported');
  }
  const v = a.inputs[0]!;
  if (cfg.maxValue == null) return same(v, ctx.graph.node('Relu', [v.name], a.base));
  return clip(ctx, v, 0, cfg.maxValue, a.base);
};

export const convertLeakyReLU: Converter = (ctx, a) => {
  const v = a.inputs[0]!;
  const alpha = (a.config as { alpha?: number }).alpha ?? 0.3;
  return same(v, ctx.graph.node('LeakyRelu', [v.name], a.base, [attr.float('alpha', alpha)]));
};

export const convertELU: Converter = (ctx, a) => {
  const v = a.inputs[0]!;
  const alpha = (a.config as { alpha?: number }).alpha ?? 1;
  return same(v, ctx.graph.node('Elu', [v.name], a.base, [attr.float('alpha', alpha)]));
};

/** The Softmax layer, on its configured Keras axis (tfjs' default is 1, not -1). */
export const convertSoftmax: Converter = (ctx, a) => {
  const axis = (a.config as { axis?: number | number[] }).axis ?? -1;
  if (Array.isArray(axis) && axis.length !== 1) throw ctx.error(a.layer, 'softmax over several axes is not supported');
  return softmax(ctx, a.inputs[0]!, Array.isArray(axis) ? axis[0]! : axis, a.base);
};
