// Window geometry shared by convolutions and pooling: Keras' kernel/stride/dilation
// configs as pairs, and 'valid'/'same' turned into explicit ONNX pads.
import type { ConvertContext } from '../context.js';
import { samePadding, type KerasShape } from '../layout.js';
import type { Layer } from '../walk.js';

export type Pair = [number, number];

/** Keras accepts 3 or [3, 3]. */
export function pair(value: unknown, fallback: Pair): Pair {
  if (value == null) return fallback;
  if (typeof value === 'number') return [value, value];
  const [a, b] = value as number[];
  return [a!, b ?? a!];
}

/** Throws unless the layer computes channels-last (the only layout tfjs-layers runs on CPU). */
export function requireChannelsLast(ctx: ConvertContext, layer: Layer, config: Record<string, unknown>): void {
  const format = config.dataFormat ?? 'channelsLast';
  if (format !== 'channelsLast') throw ctx.error(layer, `dataFormat '${String(format)}' is not supported`);
}

/**
 * ONNX pads [top, left, bottom, right] for a window over the input's H and W. 'same'
 * follows TensorFlow exactly (extra pixel bottom/right). With an unknown side and stride
 * 1 the padding is still fixed, (k_eff - 1) split the same way; with stride > 1 it
 * depends on the size, so the input size must be static.
 */
export function windowPads(
  ctx: ConvertContext,
  layer: Layer,
  padding: unknown,
  input: KerasShape,
  kernel: Pair,
  strides: Pair,
  dilations: Pair = [1, 1],
): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') throw ctx.error(layer, `padding '${String(padding)}' is not supported`);
  const side = (i: 0 | 1): [number, number] => {
    const size = input[i + 1];
    if (typeof size === 'number') return samePadding(size, kernel[i], strides[i], dilations[i]);
    if (strides[i] !== 1) throw ctx.error(layer, "'same' padding with stride > 1 needs a static input height and width");
    const total = (kernel[i] - 1) * dilations[i];
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [top, bottom] = side(0);
  const [left, right] = side(1);
  return [top, left, bottom, right];
}
