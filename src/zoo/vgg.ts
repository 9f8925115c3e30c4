// VGG16 and VGG19, layer for layer as keras/src/applications/vgg16.py and vgg19.py.
// Reference: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale
// Image Recognition", ICLR 2015 (https://arxiv.org/abs/1409.1556).
import { tf } from '../tf.js';
import type { BuildOptions } from './card.js';
import { apply, headlessPooling, imageInput, resolveOptions, type ResolvedOptions, type SymbolicTensor } from './_common.js';

const DEFAULTS = { defaultSize: [224, 224] as [number, number], minSize: 32 };

/** 3x3 'same' conv with ReLU, as every VGG conv layer. */
function conv(x: SymbolicTensor, filters: number, name: string): SymbolicTensor {
  return apply(tf.layers.conv2d({ filters, kernelSize: [3, 3], activation: 'relu', padding: 'same', name }), x);
}

function maxPooling(x: SymbolicTensor, name: string): SymbolicTensor {
  return apply(tf.layers.maxPooling2d({ poolSize: [2, 2], strides: [2, 2], name }), x);
}

/** Flatten + fc1 + fc2 + predictions, or the optional global pooling without a top. */
function vggHead(x: SymbolicTensor, o: ResolvedOptions): SymbolicTensor {
  if (o.includeTop) {
    // Classification block
    x = apply(tf.layers.flatten({ name: 'flatten' }), x);
    x = apply(tf.layers.dense({ units: 4096, activation: 'relu', name: 'fc1' }), x);
    x = apply(tf.layers.dense({ units: 4096, activation: 'relu', name: 'fc2' }), x);
    return apply(tf.layers.dense({ units: o.classes, activation: o.classifierActivation, name: 'predictions' }), x);
  }
  // Porting note: Keras leaves these two unnamed; we use the names Keras 3 gives them
  // in a fresh session.
  return headlessPooling(x, o, { avg: 'global_average_pooling2d', max: 'global_max_pooling2d' });
}

/** Convolutions per block (filters 64, 128, 256, 512, 512), as timm's vgg cfgs. */
const BLOCK_DEPTHS = { vgg16: [2, 2, 3, 3, 3], vgg19: [2, 2, 4, 4, 4] } as const;
const BLOCK_FILTERS = [64, 128, 256, 512, 512] as const;

/**
 * The VGG trunk and head. Keras spells out every layer in vgg16.py / vgg19.py; the
 * names it gives (block{b}_conv{i}, block{b}_pool) follow from the depths above.
 */
function vgg(name: keyof typeof BLOCK_DEPTHS, opts: BuildOptions): tf.LayersModel {
  const o = resolveOptions(name, opts, DEFAULTS);
  const imgInput = imageInput(o.inputSize);
  let x = imgInput;
  BLOCK_DEPTHS[name].forEach((depth, b) => {
    // Block b+1
    for (let i = 1; i <= depth; i++) x = conv(x, BLOCK_FILTERS[b]!, `block${b + 1}_conv${i}`);
    x = maxPooling(x, `block${b + 1}_pool`);
  });
  x = vggHead(x, o);
  return tf.model({ inputs: imgInput, outputs: x, name });
}

/** keras.applications.VGG16 (138,357,544 parameters with the top). */
export function vgg16(opts: BuildOptions = {}): tf.LayersModel {
  return vgg('vgg16', opts);
}

/** keras.applications.VGG19 (143,667,240 parameters with the top). */
export function vgg19(opts: BuildOptions = {}): tf.LayersModel {
  return vgg('vgg19', opts);
}
