// Keras layer class -> converter. One line per class; a new layer type adds its
// converter in the file of its group and one line here.
import { convertActivation, convertELU, convertLeakyReLU, convertReLU, convertSoftmax } from './activation.js';
import { convertBatchNormalization } from './batchnorm.js';
import { convertConv2D, convertDepthwiseConv2D, convertSeparableConv2D } from './conv.js';
import { convertDense, convertFlatten, convertIdentity, convertReshape } from './core.js';
import {
  convertAdd,
  convertAverage,
  convertConcatenate,
  convertMaximum,
  convertMinimum,
  convertMultiply,
} from './merge.js';
import {
  convertAveragePooling2D,
  convertGlobalAveragePooling2D,
  convertGlobalMaxPooling2D,
  convertMaxPooling2D,
  convertZeroPadding2D,
} from './pooling.js';
import type { Converter } from './types.js';

export const CONVERTERS: Record<string, Converter> = {
  Conv2D: convertConv2D,
  DepthwiseConv2D: convertDepthwiseConv2D,
  SeparableConv2D: convertSeparableConv2D,
  BatchNormalization: convertBatchNormalization,
  Activation: convertActivation,
  ReLU: convertReLU,
  LeakyReLU: convertLeakyReLU,
  ELU: convertELU,
  Softmax: convertSoftmax,
  ZeroPadding2D: convertZeroPadding2D,
  MaxPooling2D: convertMaxPooling2D,
  AveragePooling2D: convertAveragePooling2D,
  GlobalAveragePooling2D: convertGlobalAveragePooling2D,
  GlobalMaxPooling2D: convertGlobalMaxPooling2D,
  Add: convertAdd,
  Multiply: convertMultiply,
  Average: convertAverage,
  Maximum: convertMaximum,
  Minimum: convertMinimum,
  Concatenate: convertConcatenate,
  Dense: convertDense,
  Flatten: convertFlatten,
  Reshape: convertReshape,
  Dropout: convertIdentity,
  SpatialDropout1D: convertIdentity,
  GaussianNoise: convertIdentity,
  GaussianDropout: convertIdentity,
  AlphaDropout: convertIdentity,
};

export type { Converter, ConvertArgs } from './types.js';
