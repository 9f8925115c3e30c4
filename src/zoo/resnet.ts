// ResNet50 (v1), layer for layer as keras/src/applications/resnet.py (ResNet, residual_block_v1,
// stack_residual_blocks_v1). Reference: He et al., "Deep Residual Learning for Image
// Recognition", CVPR 2016 (https://arxiv.org/abs/1512.03385).
import { tf } from '../tf.js';
import type { BuildOptions } from './card.js';
import { apply, averagePoolingClassifier, headlessPooling, imageInput, resolveOptions, type SymbolicTensor } from './_common.js';

const DEFAULTS = { defaultSize: [224, 224] as [number, number], minSize: 32 };

/** Keras' ResNet batch norm: epsilon 1.001e-5 (momentum stays at the 0.99 default). */
const BN_EPSILON = 1.001e-5;

function bn(x: SymbolicTensor, name: string): SymbolicTensor {
  return apply(tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, name }), x);
}

function relu(x: SymbolicTensor, name: string): SymbolicTensor {
  return apply(tf.layers.activation({ activation: 'relu', name }), x);
}

/**
 * Keras' residual_block_v1: 1x1 (carries the stride) -> 3x3 'same' -> 1x1 (4 * filters),
 * with a 1x1 conv shortcut or the identity. Names: `${name}_0_conv` ... `${name}_out`.
 */
function residualBlockV1(
  x: SymbolicTensor,
  filters: number,
  { kernelSize = 3, stride = 1, convShortcut = true, name }: { kernelSize?: number; stride?: number; convShortcut?: boolean; name: string },
): SymbolicTensor {
  let shortcut: SymbolicTensor;
  if (convShortcut) {
    shortcut = apply(tf.layers.conv2d({ filters: 4 * filters, kernelSize: 1, strides: stride, name: `${name}_0_conv` }), x);
    shortcut = bn(shortcut, `${name}_0_bn`);
  } else {
    shortcut = x;
  }

  x = apply(tf.layers.conv2d({ filters, kernelSize: 1, strides: stride, name: `${name}_1_conv` }), x);
  x = bn(x, `${name}_1_bn`);
  x = relu(x, `${name}_1_relu`);

  x = apply(tf.layers.conv2d({ filters, kernelSize, padding: 'same', name: `${name}_2_conv` }), x);
  x = bn(x, `${name}_2_bn`);
  x = relu(x, `${name}_2_relu`);

  x = apply(tf.layers.conv2d({ filters: 4 * filters, kernelSize: 1, name: `${name}_3_conv` }), x);
  x = bn(x, `${name}_3_bn`);

  x = apply(tf.layers.add({ name: `${name}_add` }), [shortcut, x]);
  return relu(x, `${name}_out`);
}

/** Keras' stack_residual_blocks_v1: block1 has the conv shortcut and stride1, blocks 2..n are identity. */
function stackResidualBlocksV1(x: SymbolicTensor, filters: number, blocks: number, stride1: number, name: string): SymbolicTensor {
  x = residualBlockV1(x, filters, { stride: stride1, name: `${name}_block1` });
  for (let i = 2; i <= blocks; i++) {
    x = residualBlockV1(x, filters, { convShortcut: false, name: `${name}_block${i}` });
  }
  return x;
}

/** keras.applications.ResNet50 (25,636,712 parameters with the top). */
export function resnet50(opts: BuildOptions = {}): tf.LayersModel {
  const o = resolveOptions('resnet50', opts, DEFAULTS);
  const imgInput = imageInput(o.inputSize);

  // Stem
  let x = apply(tf.layers.zeroPadding2d({ padding: [[3, 3], [3, 3]], name: 'conv1_pad' }), imgInput);
  x = apply(tf.layers.conv2d({ filters: 64, kernelSize: 7, strides: 2, useBias: true, name: 'conv1_conv' }), x);
  x = bn(x, 'conv1_bn');
  x = relu(x, 'conv1_relu');
  x = apply(tf.layers.zeroPadding2d({ padding: [[1, 1], [1, 1]], name: 'pool1_pad' }), x);
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }), x);

  // Block 2..5 (Keras' stack_fn for ResNet50: 3, 4, 6, 3 blocks)
  x = stackResidualBlocksV1(x, 64, 3, 1, 'conv2');
  x = stackResidualBlocksV1(x, 128, 4, 2, 'conv3');
  x = stackResidualBlocksV1(x, 256, 6, 2, 'conv4');
  x = stackResidualBlocksV1(x, 512, 3, 2, 'conv5');

  x = o.includeTop ? averagePoolingClassifier(x, o, 'avg_pool') : headlessPooling(x, o, { avg: 'avg_pool', max: 'max_pool' });

  return tf.model({ inputs: imgInput, outputs: x, name: 'resnet50' });
}
