// What every Keras application builder shares: option defaults and up-front checks
// (keras/src/applications/imagenet_utils.py obtain_input_shape and validate_activation),
// the named input, and correct_pad. Internal to src/zoo: builders import it, users don't.
import { tf } from '../tf.js';
import { POOLINGS, type BuildOptions, type Pooling } from './card.js';
import { usageError } from '../errors.js';

export type SymbolicTensor = tf.SymbolicTensor;
export type Padding2D = [[number, number], [number, number]];

/** BuildOptions with every default filled in. */
export interface ResolvedOptions {
  includeTop: boolean;
  pooling: Pooling;
  classes: number;
  inputSize: [number, number];
  alpha: number;
  classifierActivation: 'softmax' | 'linear';
}

export interface FamilyDefaults {
  /** Keras' default_size, e.g. [224, 224]; [299, 299] for InceptionV3. */
  defaultSize: [number, number];
  /** Keras' min_size (32, or 75 for InceptionV3). */
  minSize: number;
}

const CLASSIFIER_ACTIVATIONS = ['softmax', 'linear'] as const;

/**
 * Fills in the defaults (includeTop true, pooling none, 1000 classes, softmax, alpha 1)
 * and rejects bad values the way Keras does, ending the message with the value received.
 */
export function resolveOptions(model: string, opts: BuildOptions, family: FamilyDefaults): ResolvedOptions {
  const includeTop = opts.includeTop ?? true;
  const pooling = opts.pooling ?? 'none';
  const classes = opts.classes ?? 1000;
  const inputSize = opts.inputSize ?? family.defaultSize;
  const alpha = opts.alpha ?? 1.0;
  const classifierActivation = opts.classifierActivation ?? 'softmax';

  if (!POOLINGS.includes(pooling)) {
    throw usageError(`${model}: pooling must be one of ${POOLINGS.join(', ')}. Received: pooling=${pooling}`);
  }
  if (!Number.isInteger(classes) || classes < 1) {
    throw usageError(`${model}: classes must be a positive integer. Received: classes=${classes}`);
  }
  if (
    !Array.isArray(inputSize) ||
    inputSize.length !== 2 ||
    !inputSize.every((d) => Number.isInteger(d) && d >= family.minSize)
  ) {
    throw usageError(
      `${model}: inputSize must be [height, width], integers no smaller than ${family.minSize}. ` +
        `Received: inputSize=${JSON.stringify(inputSize)}`,
    );
  }
  if (!(typeof alpha === 'number' && Number.isFinite(alpha) && alpha > 0)) {
    throw usageError(`${model}: alpha must be a positive number. Received: alpha=${alpha}`);
  }
  if (!CLASSIFIER_ACTIVATIONS.includes(classifierActivation)) {
    throw usageError(
      `${model}: classifierActivation must be one of ${CLASSIFIER_ACTIVATIONS.join(', ')}. ` +
        `Received: classifierActivation=${classifierActivation}`,
    );
  }
  return { includeTop, pooling, classes, inputSize: [inputSize[0], inputSize[1]], alpha, classifierActivation };
}

/**
 * The image input, [height, width, 3] (channels_last).
 *
 * Porting note: Keras 3 calls it `input_layer`; we keep the Keras 2.x name `input_1`,
 * which the real TF.js model files carry (shared data: mobilenet_v1_0.25_224, nsfwjs_*).
 */
export function imageInput(size: [number, number]): SymbolicTensor {
  return tf.input({ shape: [size[0], size[1], 3], name: 'input_1' });
}

/** layer.apply() typed for the functional API (tfjs types it loosely). */
export function apply(layer: tf.layers.Layer, x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
  return layer.apply(x) as SymbolicTensor;
}

/**
 * Keras' imagenet_utils.correct_pad: the ZeroPadding2D before a stride-2 'valid' conv
 * that reproduces TF's 'same' padding: ((0, 1), (0, 1)) on even sides, ((1, 1), (1, 1)) on odd ones.
 */
export function correctPad(x: SymbolicTensor, kernelSize: number): Padding2D {
  const [h, w] = [x.shape[1], x.shape[2]];
  const adjust = [h == null ? 1 : 1 - (h % 2), w == null ? 1 : 1 - (w % 2)];
  const correct = Math.floor(kernelSize / 2);
  return [
    [correct - adjust[0], correct],
    [correct - adjust[1], correct],
  ];
}

/** Python's `f"{alpha:0.2f}"`, used in Keras' MobileNet model names. */
export function alphaText(alpha: number): string {
  return alpha.toFixed(2);
}

/**
 * Keras' `pooling` argument of a model built without its top: global average or max
 * pooling, or nothing. Each family names these layers its own way (Keras leaves most
 * unnamed), hence the names argument.
 */
export function headlessPooling(x: SymbolicTensor, o: ResolvedOptions, names: { avg: string; max: string }): SymbolicTensor {
  if (o.pooling === 'avg') return apply(tf.layers.globalAveragePooling2d({ name: names.avg }), x);
  if (o.pooling === 'max') return apply(tf.layers.globalMaxPooling2d({ name: names.max }), x);
  return x;
}

/** The classification block ResNet, InceptionV3 and MobileNetV2 share: global average pooling, then `predictions`. */
export function averagePoolingClassifier(x: SymbolicTensor, o: ResolvedOptions, poolingName: string): SymbolicTensor {
  x = apply(tf.layers.globalAveragePooling2d({ name: poolingName }), x);
  return apply(tf.layers.dense({ units: o.classes, activation: o.classifierActivation, name: 'predictions' }), x);
}
