// Multiply-adds per image, counted from a built model: Conv2D, DepthwiseConv2D,
// SeparableConv2D and Dense, from each layer's input and output shapes (batch 1).
// Biases, batch norm, activations, pooling and additions are not counted, as in the
// MobileNet paper and most model zoos.
import type { tf } from '../tf.js';

type Shape = (number | null)[];

function dims(shape: Shape, layer: string): number[] {
  return shape.slice(1).map((d) => {
    if (d == null) throw new Error(`countMacs: layer '${layer}' has an unknown dimension in ${JSON.stringify(shape)}`);
    return d;
  });
}

const product = (xs: number[]) => xs.reduce((a, b) => a * b, 1);

/** Multiply-adds of one image through `model`, whose input shape must be fully known. */
export function countMacs(model: tf.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (!['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Dense'].includes(className)) continue;
    const inShape = dims((layer.input as tf.SymbolicTensor).shape, layer.name);
    const outShape = dims(layer.outputShape as Shape, layer.name);
    const config = layer.getConfig();
    const cin = inShape[inShape.length - 1];
    const cout = outShape[outShape.length - 1];
    if (className === 'Dense') {
      // Every leading position applies the whole kernel (cin x units).
      macs += product(outShape.slice(0, -1)) * cin * cout;
      continue;
    }
    const [kh, kw] = config.kernelSize as number[];
    const positions = outShape[0] * outShape[1];
    if (className === 'Conv2D') {
      macs += positions * kh * kw * cin * cout;
    } else if (className === 'DepthwiseConv2D') {
      macs += positions * kh * kw * cin * (config.depthMultiplier as number);
    } else {
      // SeparableConv2D: depthwise (cin * depthMultiplier channels) then 1x1 pointwise.
      const mid = cin * (config.depthMultiplier as number);
      macs += positions * kh * kw * mid + positions * mid * cout;
    }
  }
  return macs;
}
