// MobileNetV2, layer for layer as keras/src/applications/mobilenet_v2.py, any alpha and
// input size. Reference: Sandler et al., "MobileNetV2: Inverted Residuals and Linear
// Bottlenecks", CVPR 2018 (https://arxiv.org/abs/1801.04381).
//
// Porting note (the stem): Keras 3 runs Conv1 with padding='same'. We keep the Keras
// 2.2.x stem, ZeroPadding2D(correct_pad) named Conv1_pad then Conv1 'valid', which is
// what real Keras 2 files carry (shared data: nsfwjs_mobilenet_v2/model.json). The two
// are the same function for every input size: correct_pad reproduces TF's 'same'
// padding for a 3x3 stride-2 conv, ((0, 1), (0, 1)) on even sides and ((1, 1), (1, 1))
// on odd ones.
//
// Porting note (the top): the classifier is `predictions` as in Keras 3 and tf.keras;
// Keras 2.2's keras-applications named it `Logits`. The global pooling, unnamed in Keras,
// is named `global_average_pooling2d` (the Keras 3 / tf.keras fresh-session name).
import { tf } from '../tf.js';
import type { BuildOptions } from './card.js';
import { alphaText, apply, averagePoolingClassifier, correctPad, headlessPooling, imageInput, resolveOptions, type SymbolicTensor } from './_common.js';

const DEFAULTS = { defaultSize: [224, 224] as [number, number], minSize: 32 };

/** Width multipliers Keras has ImageNet weights for. */
export const MOBILENET_V2_ALPHAS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4] as const;

/** Keras' MobileNetV2 batch norm: epsilon 1e-3, momentum 0.999. */
function bn(x: SymbolicTensor, name: string): SymbolicTensor {
  return apply(tf.layers.batchNormalization({ axis: -1, epsilon: 1e-3, momentum: 0.999, name }), x);
}

function relu6(x: SymbolicTensor, name: string): SymbolicTensor {
  return apply(tf.layers.reLU({ maxValue: 6, name }), x);
}

/** Keras' _make_divisible (from the TF-slim original): round v to a multiple of divisor, losing at most 10%. */
export function makeDivisible(v: number, divisor: number, minValue: number = divisor): number {
  let newV = Math.max(minValue, Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor);
  if (newV < 0.9 * v) newV += divisor;
  return newV;
}

/**
 * Keras' _inverted_res_block: block_N_expand (1x1) + BN + ReLU6 (skipped for block 0,
 * whose prefix is expanded_conv_), [block_N_pad] block_N_depthwise + BN + ReLU6,
 * block_N_project (1x1, linear) + BN, and block_N_add when shapes allow.
 */
function invertedResBlock(
  inputs: SymbolicTensor,
  { expansion, stride, alpha, filters, blockId }: { expansion: number; stride: number; alpha: number; filters: number; blockId: number },
): SymbolicTensor {
  const inChannels = inputs.shape[3] as number;
  const pointwiseConvFilters = Math.trunc(filters * alpha);
  // Ensure the number of filters on the last 1x1 convolution is divisible by 8.
  const pointwiseFilters = makeDivisible(pointwiseConvFilters, 8);
  let x = inputs;
  let prefix = `block_${blockId}_`;

  if (blockId) {
    // Expand with a pointwise 1x1 convolution.
    x = apply(
      tf.layers.conv2d({ filters: expansion * inChannels, kernelSize: 1, padding: 'same', useBias: false, name: `${prefix}expand` }),
      x,
    );
    x = bn(x, `${prefix}expand_BN`);
    x = relu6(x, `${prefix}expand_relu`);
  } else {
    prefix = 'expanded_conv_';
  }

  // Depthwise 3x3 convolution.
  if (stride === 2) {
    x = apply(tf.layers.zeroPadding2d({ padding: correctPad(x, 3), name: `${prefix}pad` }), x);
  }
  x = apply(
    tf.layers.depthwiseConv2d({
      kernelSize: 3,
      strides: stride,
      useBias: false,
      padding: stride === 1 ? 'same' : 'valid',
      name: `${prefix}depthwise`,
    }),
    x,
  );
  x = bn(x, `${prefix}depthwise_BN`);
  x = relu6(x, `${prefix}depthwise_relu`);

  // Project with a pointwise 1x1 convolution.
  x = apply(
    tf.layers.conv2d({ filters: pointwiseFilters, kernelSize: 1, padding: 'same', useBias: false, name: `${prefix}project` }),
    x,
  );
  x = bn(x, `${prefix}project_BN`);

  if (inChannels === pointwiseFilters && stride === 1) {
    return apply(tf.layers.add({ name: `${prefix}add` }), [inputs, x]);
  }
  return x;
}

/** keras.applications.MobileNetV2 (alpha 1.0 at 224: 3,538,984 parameters with the top). */
export function mobilenetV2(opts: BuildOptions = {}): tf.LayersModel {
  const o = resolveOptions('mobilenet_v2', opts, DEFAULTS);
  const { alpha } = o;
  const imgInput = imageInput(o.inputSize);

  // Stem (see the porting note at the top of this file)
  const firstBlockFilters = makeDivisible(32 * alpha, 8);
  let x = apply(tf.layers.zeroPadding2d({ padding: correctPad(imgInput, 3), name: 'Conv1_pad' }), imgInput);
  x = apply(
    tf.layers.conv2d({ filters: firstBlockFilters, kernelSize: 3, strides: [2, 2], padding: 'valid', useBias: false, name: 'Conv1' }),
    x,
  );
  x = bn(x, 'bn_Conv1');
  x = relu6(x, 'Conv1_relu');

  // Block 0: 112 x 112 x 16 at 224
  x = invertedResBlock(x, { filters: 16, alpha, stride: 1, expansion: 1, blockId: 0 });

  // Block 1-2: 56 x 56 x 24
  x = invertedResBlock(x, { filters: 24, alpha, stride: 2, expansion: 6, blockId: 1 });
  x = invertedResBlock(x, { filters: 24, alpha, stride: 1, expansion: 6, blockId: 2 });

  // Block 3-5: 28 x 28 x 32
  x = invertedResBlock(x, { filters: 32, alpha, stride: 2, expansion: 6, blockId: 3 });
  x = invertedResBlock(x, { filters: 32, alpha, stride: 1, expansion: 6, blockId: 4 });
  x = invertedResBlock(x, { filters: 32, alpha, stride: 1, expansion: 6, blockId: 5 });

  // Block 6-9: 14 x 14 x 64
  x = invertedResBlock(x, { filters: 64, alpha, stride: 2, expansion: 6, blockId: 6 });
  x = invertedResBlock(x, { filters: 64, alpha, stride: 1, expansion: 6, blockId: 7 });
  x = invertedResBlock(x, { filters: 64, alpha, stride: 1, expansion: 6, blockId: 8 });
  x = invertedResBlock(x, { filters: 64, alpha, stride: 1, expansion: 6, blockId: 9 });

  // Block 10-12: 14 x 14 x 96
  x = invertedResBlock(x, { filters: 96, alpha, stride: 1, expansion: 6, blockId: 10 });
  x = invertedResBlock(x, { filters: 96, alpha, stride: 1, expansion: 6, blockId: 11 });
  x = invertedResBlock(x, { filters: 96, alpha, stride: 1, expansion: 6, blockId: 12 });

  // Block 13-15: 7 x 7 x 160
  x = invertedResBlock(x, { filters: 160, alpha, stride: 2, expansion: 6, blockId: 13 });
  x = invertedResBlock(x, { filters: 160, alpha, stride: 1, expansion: 6, blockId: 14 });
  x = invertedResBlock(x, { filters: 160, alpha, stride: 1, expansion: 6, blockId: 15 });

  // Block 16: 7 x 7 x 320
  x = invertedResBlock(x, { filters: 320, alpha, stride: 1, expansion: 6, blockId: 16 });

  // No alpha applied to the last conv, as stated in the paper: only a width multiplier
  // above 1 increases its output channels.
  const lastBlockFilters = alpha > 1.0 ? makeDivisible(1280 * alpha, 8) : 1280;
  x = apply(tf.layers.conv2d({ filters: lastBlockFilters, kernelSize: 1, useBias: false, name: 'Conv_1' }), x);
  x = bn(x, 'Conv_1_bn');
  x = relu6(x, 'out_relu');

  x = o.includeTop
    ? averagePoolingClassifier(x, o, 'global_average_pooling2d')
    : headlessPooling(x, o, { avg: 'global_average_pooling2d', max: 'global_max_pooling2d' });

  const rows = o.inputSize[0];
  return tf.model({ inputs: imgInput, outputs: x, name: `mobilenetv2_${alphaText(alpha)}_${rows}` });
}
