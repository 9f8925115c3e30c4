// Conv2D, DepthwiseConv2D and SeparableConv2D as NCHW ONNX Conv nodes. A BatchNormalization
// that alone consumes a conv's output is folded into that conv's weights and bias.
import type { ConvertContext } from '../context.js';
import type { OnnxValue } from '../layout.js';
import { attr } from '../proto.js';
import { applyActivation } from './activation.js';
import { pair, requireChannelsLast, windowPads } from './geometry.js';
import type { ConvertArgs, Converter } from './types.js';
import { batchNormParams, depthwiseToOihw, foldBatchNorm, hwioToOihw, readWeights, type Weight } from './weights.js';

interface ConvSpec {
  input: OnnxValue;
  weight: Weight;
  bias?: Float32Array;
  group: number;
  strides: [number, number];
  dilations: [number, number];
  padding: unknown;
  /** Fold a following BatchNormalization and apply the layer's activation (the last conv of a layer). */
  finish: boolean;
  base: string;
}

function isLinear(activation: unknown): boolean {
  return activation == null || String(activation) === 'linear';
}

function emitConv(ctx: ConvertContext, a: ConvertArgs, spec: ConvSpec): OnnxValue {
  const g = ctx.graph;
  const [, , kh, kw] = spec.weight.shape as [number, number, number, number];
  const pads = windowPads(ctx, a.layer, spec.padding, spec.input.shape, [kh, kw], spec.strides, spec.dilations);
  let { weight, bias } = spec;

  const out = a.node.outputTensors[0]!;
  const bn = spec.finish && isLinear(a.config.activation) ? ctx.soleBatchNormConsumer(out) : undefined;
  if (bn) {
    ({ weight, bias } = foldBatchNorm(weight, bias, batchNormParams(bn.outboundLayer)));
    ctx.fold(bn, out);
  }

  const inputs = [spec.input.name, g.floats(`${spec.base}_W`, weight.shape, weight.data)];
  if (bias) inputs.push(g.floats(`${spec.base}_B`, [bias.length], bias));
  const name = g.node('Conv', inputs, spec.base, [
    attr.ints('kernel_shape', [kh, kw]),
    attr.ints('strides', spec.strides),
    attr.ints('dilations', spec.dilations),
    attr.ints('pads', pads),
    attr.int('group', spec.group),
  ]);
  // The depthwise half of a separable conv has the output's H and W and C*M channels.
  const shape = spec.finish ? a.outShape : [...a.outShape.slice(0, 3), weight.shape[0]!];
  const value: OnnxValue = { name, layout: 'NCHW', shape };
  return spec.finish ? applyActivation(ctx, a.layer, value, a.config.activation, `${a.base}_act`) : value;
}

function common(ctx: ConvertContext, a: ConvertArgs) {
  requireChannelsLast(ctx, a.layer, a.config);
  return {
    input: ctx.nchw(a.inputs[0]!),
    strides: pair(a.config.strides, [1, 1]),
    dilations: pair(a.config.dilationRate, [1, 1]),
    padding: a.config.padding ?? 'valid',
    useBias: a.config.useBias !== false,
  };
}

export const convertConv2D: Converter = (ctx, a) => {
  const c = common(ctx, a);
  const [kernel, bias] = readWeights(a.layer);
  return emitConv(ctx, a, {
    ...c,
    weight: hwioToOihw(kernel!),
    bias: c.useBias ? bias?.data : undefined,
    group: 1,
    finish: true,
    base: a.base,
  });
};

export const convertDepthwiseConv2D: Converter = (ctx, a) => {
  const c = common(ctx, a);
  const [kernel, bias] = readWeights(a.layer);
  return emitConv(ctx, a, {
    ...c,
    weight: depthwiseToOihw(kernel!),
    bias: c.useBias ? bias?.data : undefined,
    group: kernel!.shape[2]!,
    finish: true,
    base: a.base,
  });
};

/** SeparableConv2D = depthwise conv (no bias) then a 1x1 conv with the bias and activation. */
export const convertSeparableConv2D: Converter = (ctx, a) => {
  const c = common(ctx, a);
  const [depthwise, pointwise, bias] = readWeights(a.layer);
  const dw = emitConv(ctx, a, {
    ...c,
    weight: depthwiseToOihw(depthwise!),
    group: depthwise!.shape[2]!,
    finish: false,
    base: `${a.base}_depthwise`,
  });
  return emitConv(ctx, a, {
    input: dw,
    weight: hwioToOihw(pointwise!),
    bias: c.useBias ? bias?.data : undefined,
    group: 1,
    strides: [1, 1],
    dilations: [1, 1],
    padding: 'valid',
    finish: true,
    base: a.base,
  });
};
