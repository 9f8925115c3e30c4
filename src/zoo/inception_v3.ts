// InceptionV3, layer for layer as keras/src/applications/inception_v3.py.
// Reference: Szegedy et al., "Rethinking the Inception Architecture for Computer Vision",
// CVPR 2016 (http://arxiv.org/abs/1512.00567).
//
// Porting note: Keras' conv2d_bn() is called with name=None, so Keras names its 94 conv,
// BN and ReLU layers, the branch poolings and two concatenations automatically, and the
// names depend on the session's counters. We name them explicitly with what Keras 2.x
// generated in a fresh session (conv2d_1..conv2d_94, batch_normalization_1..94,
// activation_1..94, max_pooling2d_1..4, average_pooling2d_1..9, concatenate_1..2), which
// is what real weight files carry (shared data: nsfwjs_inception_v3/model.json). Each
// conv2dBn() call passes its number: the order in which Keras creates the layers.
// Keras 3 would generate conv2d, conv2d_1, ... instead.
import { tf } from '../tf.js';
import type { BuildOptions } from './card.js';
import { apply, averagePoolingClassifier, headlessPooling, imageInput, resolveOptions, type SymbolicTensor } from './_common.js';

const DEFAULTS = { defaultSize: [299, 299] as [number, number], minSize: 75 };

/**
 * Keras' conv2d_bn: Conv2D without bias, BatchNormalization(scale=False) with the default
 * epsilon 1e-3, then ReLU. `id` gives conv2d_{id}, batch_normalization_{id}, activation_{id}.
 */
function conv2dBn(
  x: SymbolicTensor,
  filters: number,
  numRow: number,
  numCol: number,
  id: number,
  { padding = 'same', strides = [1, 1] }: { padding?: 'same' | 'valid'; strides?: [number, number] } = {},
): SymbolicTensor {
  x = apply(
    tf.layers.conv2d({ filters, kernelSize: [numRow, numCol], strides, padding, useBias: false, name: `conv2d_${id}` }),
    x,
  );
  x = apply(tf.layers.batchNormalization({ axis: -1, scale: false, name: `batch_normalization_${id}` }), x);
  return apply(tf.layers.activation({ activation: 'relu', name: `activation_${id}` }), x);
}

/** The 3x3 stride-1 'same' average pooling at the head of each branch_pool. */
function branchAvgPooling(x: SymbolicTensor, id: number): SymbolicTensor {
  return apply(
    tf.layers.averagePooling2d({ poolSize: [3, 3], strides: [1, 1], padding: 'same', name: `average_pooling2d_${id}` }),
    x,
  );
}

function maxPooling(x: SymbolicTensor, id: number): SymbolicTensor {
  return apply(tf.layers.maxPooling2d({ poolSize: [3, 3], strides: [2, 2], name: `max_pooling2d_${id}` }), x);
}

function concat(xs: SymbolicTensor[], name: string): SymbolicTensor {
  return apply(tf.layers.concatenate({ axis: -1, name }), xs);
}

/** keras.applications.InceptionV3 (23,851,784 parameters with the top). */
export function inceptionV3(opts: BuildOptions = {}): tf.LayersModel {
  const o = resolveOptions('inception_v3', opts, DEFAULTS);
  const imgInput = imageInput(o.inputSize);

  // Stem
  let x = conv2dBn(imgInput, 32, 3, 3, 1, { strides: [2, 2], padding: 'valid' });
  x = conv2dBn(x, 32, 3, 3, 2, { padding: 'valid' });
  x = conv2dBn(x, 64, 3, 3, 3);
  x = maxPooling(x, 1);

  x = conv2dBn(x, 80, 1, 1, 4, { padding: 'valid' });
  x = conv2dBn(x, 192, 3, 3, 5, { padding: 'valid' });
  x = maxPooling(x, 2);

  // Block mixed0, mixed1, mixed2: 35 x 35 x 256 / 288 / 288 (conv2d_6..26, average_pooling2d_1..3)
  for (let i = 0; i < 3; i++) {
    const id = 6 + 7 * i;
    const branch1x1 = conv2dBn(x, 64, 1, 1, id);

    let branch5x5 = conv2dBn(x, 48, 1, 1, id + 1);
    branch5x5 = conv2dBn(branch5x5, 64, 5, 5, id + 2);

    let branch3x3dbl = conv2dBn(x, 64, 1, 1, id + 3);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3, id + 4);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3, id + 5);

    let branchPooling = branchAvgPooling(x, 1 + i);
    branchPooling = conv2dBn(branchPooling, i === 0 ? 32 : 64, 1, 1, id + 6);
    x = concat([branch1x1, branch5x5, branch3x3dbl, branchPooling], `mixed${i}`);
  }

  // Block mixed3: 17 x 17 x 768 (conv2d_27..30, max_pooling2d_3)
  {
    const branch3x3 = conv2dBn(x, 384, 3, 3, 27, { strides: [2, 2], padding: 'valid' });

    let branch3x3dbl = conv2dBn(x, 64, 1, 1, 28);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3, 29);
    branch3x3dbl = conv2dBn(branch3x3dbl, 96, 3, 3, 30, { strides: [2, 2], padding: 'valid' });

    const branchPooling = maxPooling(x, 3);
    x = concat([branch3x3, branch3x3dbl, branchPooling], 'mixed3');
  }

  // Block mixed4..mixed7: 17 x 17 x 768 (conv2d_31..70, average_pooling2d_4..7).
  // Keras writes mixed4 and mixed7 out and loops for mixed5/6; they differ only in the
  // width of the 7x7 branches: 128, 160, 160, 192.
  for (let i = 0; i < 4; i++) {
    const id = 31 + 10 * i;
    const width = [128, 160, 160, 192][i];
    const branch1x1 = conv2dBn(x, 192, 1, 1, id);

    let branch7x7 = conv2dBn(x, width, 1, 1, id + 1);
    branch7x7 = conv2dBn(branch7x7, width, 1, 7, id + 2);
    branch7x7 = conv2dBn(branch7x7, 192, 7, 1, id + 3);

    let branch7x7dbl = conv2dBn(x, width, 1, 1, id + 4);
    branch7x7dbl = conv2dBn(branch7x7dbl, width, 7, 1, id + 5);
    branch7x7dbl = conv2dBn(branch7x7dbl, width, 1, 7, id + 6);
    branch7x7dbl = conv2dBn(branch7x7dbl, width, 7, 1, id + 7);
    branch7x7dbl = conv2dBn(branch7x7dbl, 192, 1, 7, id + 8);

    let branchPooling = branchAvgPooling(x, 4 + i);
    branchPooling = conv2dBn(branchPooling, 192, 1, 1, id + 9);
    x = concat([branch1x1, branch7x7, branch7x7dbl, branchPooling], `mixed${4 + i}`);
  }

  // Block mixed8: 8 x 8 x 1280 (conv2d_71..76, max_pooling2d_4)
  {
    let branch3x3 = conv2dBn(x, 192, 1, 1, 71);
    branch3x3 = conv2dBn(branch3x3, 320, 3, 3, 72, { strides: [2, 2], padding: 'valid' });

    let branch7x7x3 = conv2dBn(x, 192, 1, 1, 73);
    branch7x7x3 = conv2dBn(branch7x7x3, 192, 1, 7, 74);
    branch7x7x3 = conv2dBn(branch7x7x3, 192, 7, 1, 75);
    branch7x7x3 = conv2dBn(branch7x7x3, 192, 3, 3, 76, { strides: [2, 2], padding: 'valid' });

    const branchPooling = maxPooling(x, 4);
    x = concat([branch3x3, branch7x7x3, branchPooling], 'mixed8');
  }

  // Block mixed9, mixed10: 8 x 8 x 2048 (conv2d_77..94, average_pooling2d_8..9,
  // mixed9_0/1 and the unnamed concatenate_1/2)
  for (let i = 0; i < 2; i++) {
    const id = 77 + 9 * i;
    const branch1x1 = conv2dBn(x, 320, 1, 1, id);

    let branch3x3 = conv2dBn(x, 384, 1, 1, id + 1);
    const branch3x3_1 = conv2dBn(branch3x3, 384, 1, 3, id + 2);
    const branch3x3_2 = conv2dBn(branch3x3, 384, 3, 1, id + 3);
    branch3x3 = concat([branch3x3_1, branch3x3_2], `mixed9_${i}`);

    let branch3x3dbl = conv2dBn(x, 448, 1, 1, id + 4);
    branch3x3dbl = conv2dBn(branch3x3dbl, 384, 3, 3, id + 5);
    const branch3x3dbl_1 = conv2dBn(branch3x3dbl, 384, 1, 3, id + 6);
    const branch3x3dbl_2 = conv2dBn(branch3x3dbl, 384, 3, 1, id + 7);
    branch3x3dbl = concat([branch3x3dbl_1, branch3x3dbl_2], `concatenate_${1 + i}`);

    let branchPooling = branchAvgPooling(x, 8 + i);
    branchPooling = conv2dBn(branchPooling, 192, 1, 1, id + 8);
    x = concat([branch1x1, branch3x3, branch3x3dbl, branchPooling], `mixed${9 + i}`);
  }

  // Classification block
  // Porting note: the headless poolings are unnamed in Keras; the Keras 2.x fresh-session names, like the rest of this file.
  x = o.includeTop
    ? averagePoolingClassifier(x, o, 'avg_pool')
    : headlessPooling(x, o, { avg: 'global_average_pooling2d_1', max: 'global_max_pooling2d_1' });

  return tf.model({ inputs: imgInput, outputs: x, name: 'inception_v3' });
}
