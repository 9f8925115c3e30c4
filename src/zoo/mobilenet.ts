// MobileNet (v1), layer for layer as keras/src/applications/mobilenet.py, any alpha and
// input size. Reference: Howard et al., "MobileNets: Efficient Convolutional Neural
// Networks for Mobile Vision Applications", 2017 (https://arxiv.org/abs/1704.04861).
//
// Porting note (the top): Keras 3 ends with GlobalAveragePooling2D(keepdims=True),
// dropout, conv_preds, reshape_2, predictions. We build the top of Keras 2.1.4 instead,
// global_average_pooling2d_1, reshape_1, dropout, conv_preds, act_softmax, reshape_2,
// because that is the graph of the TF.js files Google publishes
// (tfjs-models/tfjs/mobilenet_v1_<alpha>_<size>/model.json; shared data:
// mobilenet_v1_0.25_224). Their weights load by name (conv_preds is the only weighted
// layer of the top, same name in both), and the card's featureLayer
// (global_average_pooling2d_1) and classifierLayer (reshape_2) exist both in the model
// built here and in the published model.json. The function is the same: softmax over
// [1, 1, classes] then reshape equals Keras 3's reshape then softmax.
//
// Porting note (the trunk): it follows Keras >= 2.2 (and Keras 3): a stride-2 depthwise
// conv is ZeroPadding2D(((0, 1), (0, 1)), name='conv_pad_<n>') then 'valid'. The Keras
// 2.1.4 TF.js files use padding='same' and have no conv_pad_<n> layers; the two agree
// whenever the side entering each stride-2 block is even (any multiple of 32, e.g. 224).
// conv_pad_<n> has no weights, so the TF.js weights load either way.
import { tf } from '../tf.js';
import type { BuildOptions } from './card.js';
import { alphaText, apply, headlessPooling, imageInput, resolveOptions, type SymbolicTensor } from './_common.js';

const DEFAULTS = { defaultSize: [224, 224] as [number, number], minSize: 32 };

/** Width multipliers Keras has ImageNet weights for. */
export const MOBILENET_ALPHAS = [0.25, 0.5, 0.75, 1.0] as const;

/** Keras' `depth_multiplier` (1 for every published weight file) and `dropout` defaults. */
const DEPTH_MULTIPLIER = 1;
const DROPOUT = 1e-3;

/** Keras' _conv_block: conv1 (3x3, 'same', no bias), conv1_bn, conv1_relu (ReLU(6.)). */
function convBlock(x: SymbolicTensor, filters: number, alpha: number, strides: [number, number]): SymbolicTensor {
  filters = Math.trunc(filters * alpha);
  x = apply(
    tf.layers.conv2d({ filters, kernelSize: [3, 3], padding: 'same', useBias: false, strides, name: 'conv1' }),
    x,
  );
  x = apply(tf.layers.batchNormalization({ axis: -1, name: 'conv1_bn' }), x);
  return apply(tf.layers.reLU({ maxValue: 6, name: 'conv1_relu' }), x);
}

/**
 * Keras' _depthwise_conv_block: [conv_pad_N] conv_dw_N, conv_dw_N_bn, conv_dw_N_relu,
 * conv_pw_N (1x1), conv_pw_N_bn, conv_pw_N_relu.
 */
function depthwiseConvBlock(
  x: SymbolicTensor,
  pointwiseConvFilters: number,
  alpha: number,
  blockId: number,
  strides: [number, number] = [1, 1],
): SymbolicTensor {
  const prefix = `conv_dw_${blockId}`;
  pointwiseConvFilters = Math.trunc(pointwiseConvFilters * alpha);
  const stride1 = strides[0] === 1 && strides[1] === 1;

  if (!stride1) {
    x = apply(tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: `conv_pad_${blockId}` }), x);
  }
  x = apply(
    tf.layers.depthwiseConv2d({
      kernelSize: [3, 3],
      padding: stride1 ? 'same' : 'valid',
      depthMultiplier: DEPTH_MULTIPLIER,
      strides,
      useBias: false,
      name: prefix,
    }),
    x,
  );
  x = apply(tf.layers.batchNormalization({ axis: -1, name: `${prefix}_bn` }), x);
  x = apply(tf.layers.reLU({ maxValue: 6, name: `${prefix}_relu` }), x);

  x = apply(
    tf.layers.conv2d({
      filters: pointwiseConvFilters,
      kernelSize: [1, 1],
      padding: 'same',
      useBias: false,
      strides: [1, 1],
      name: `conv_pw_${blockId}`,
    }),
    x,
  );
  x = apply(tf.layers.batchNormalization({ axis: -1, name: `conv_pw_${blockId}_bn` }), x);
  return apply(tf.layers.reLU({ maxValue: 6, name: `conv_pw_${blockId}_relu` }), x);
}

/** keras.applications.MobileNet (alpha 1.0 at 224: 4,253,864 parameters with the top). */
export function mobilenet(opts: BuildOptions = {}): tf.LayersModel {
  const o = resolveOptions('mobilenet', opts, DEFAULTS);
  const { alpha } = o;
  const imgInput = imageInput(o.inputSize);

  // Block 0: 112 x 112 at 224
  let x = convBlock(imgInput, 32, alpha, [2, 2]);
  x = depthwiseConvBlock(x, 64, alpha, 1);

  // Block 1: 56 x 56
  x = depthwiseConvBlock(x, 128, alpha, 2, [2, 2]);
  x = depthwiseConvBlock(x, 128, alpha, 3);

  // Block 2: 28 x 28
  x = depthwiseConvBlock(x, 256, alpha, 4, [2, 2]);
  x = depthwiseConvBlock(x, 256, alpha, 5);

  // Block 3: 14 x 14
  x = depthwiseConvBlock(x, 512, alpha, 6, [2, 2]);
  x = depthwiseConvBlock(x, 512, alpha, 7);
  x = depthwiseConvBlock(x, 512, alpha, 8);
  x = depthwiseConvBlock(x, 512, alpha, 9);
  x = depthwiseConvBlock(x, 512, alpha, 10);
  x = depthwiseConvBlock(x, 512, alpha, 11);

  // Block 4: 7 x 7
  x = depthwiseConvBlock(x, 1024, alpha, 12, [2, 2]);
  x = depthwiseConvBlock(x, 1024, alpha, 13);

  if (o.includeTop) {
    // Keras 2.1.4 top (see the porting note at the top of this file).
    const channels = Math.trunc(1024 * alpha);
    x = apply(tf.layers.globalAveragePooling2d({ name: 'global_average_pooling2d_1' }), x);
    x = apply(tf.layers.reshape({ targetShape: [1, 1, channels], name: 'reshape_1' }), x);
    x = apply(tf.layers.dropout({ rate: DROPOUT, name: 'dropout' }), x);
    x = apply(tf.layers.conv2d({ filters: o.classes, kernelSize: [1, 1], padding: 'same', name: 'conv_preds' }), x);
    // Porting note: Keras 2.1.4 hard-codes softmax here; the layer keeps its name
    // act_softmax whatever classifierActivation is.
    x = apply(tf.layers.activation({ activation: o.classifierActivation, name: 'act_softmax' }), x);
    x = apply(tf.layers.reshape({ targetShape: [o.classes], name: 'reshape_2' }), x);
  } else {
    // Porting note: unnamed in Keras; the Keras 2.x fresh-session names, as in the top.
    x = headlessPooling(x, o, { avg: 'global_average_pooling2d_1', max: 'global_max_pooling2d_1' });
  }

  const rows = o.inputSize[0];
  return tf.model({ inputs: imgInput, outputs: x, name: `mobilenet_${alphaText(alpha)}_${rows}` });
}
