// A model card: everything needed to build, feed and describe one backbone.
// Cards live as JSON in the top-level models/ folder (one file per backbone); this
// file is their schema. Grouped like timm's PretrainedCfg: identity, input, features,
// cost/accuracy, weights, provenance.
import type { WeightsSource } from '../weights/source.js';
import type { PreprocessMode } from '../images/preprocess.js';
import type { Interpolation, ResizeMode } from '../images/resize.js';

/** How a spatial [h, w, c] output becomes [c]: a build option of the zoo and a choice of extract. */
export const POOLINGS = ['none', 'avg', 'max'] as const;
export type Pooling = (typeof POOLINGS)[number];

export type { WeightsSource };

export interface ModelCard {
  // --- identity
  /** Registry name as typed by users: 'vgg16', 'mobilenet', 'mobilenet_v2'. */
  name: string;
  /** Key of the architecture builder in src/zoo/architectures.ts. */
  architecture: string;
  description: string;
  /** Builder options that define this variant (e.g. { alpha: 1.0 }). */
  architectureOptions?: Record<string, number | string | boolean>;

  // --- input / data config
  /** [height, width]; channels are always 3. */
  inputSize: [number, number];
  /** Channel order the network expects after preprocessing (caffe mode means BGR). */
  channelOrder: 'RGB' | 'BGR';
  preprocess: PreprocessMode;
  interpolation: Interpolation;
  resize: ResizeMode;

  // --- features / head
  /** Default layer for `extract` (e.g. vgg16 'fc2'). */
  featureLayer: string;
  featureDim: number;
  /** Layer whose output is the classifier's probabilities. */
  classifierLayer: string;
  numClasses: number;
  /** Label set: 'imagenet' (Keras class order). */
  labels: 'imagenet';

  // --- cost and accuracy
  /** Parameters with the top, as Keras' model.count_params(). */
  parameters: number;
  /** Multiply-adds per image at inputSize, with the top. */
  macs: number;
  /** ImageNet top-1/top-5 accuracy from the Keras applications docs (fraction, e.g. 0.713). */
  top1: number | null;
  top5: number | null;

  // --- weights
  weights: WeightsSource[];

  // --- search
  /** dedup's default: the cosine threshold measured on planted duplicates (bench/dedup-quality.ts). */
  dedup?: DedupDefault;

  // --- provenance
  license: string;
  paper: string;
  kerasSource: string;
}

/** A measured duplicate threshold for the card's feature layer. */
export interface DedupDefault {
  /** Cosine similarity at or above which two images are near-duplicates. */
  threshold: number;
  /** The layer it was measured on (the card's featureLayer). */
  layer: string;
  /** What was measured: weights, photos, precision/recall/F1 at the threshold. */
  measured: string;
}

/** Options every architecture builder accepts (Keras' shared application signature). */
export interface BuildOptions {
  includeTop?: boolean;
  /** Only used when includeTop is false. */
  pooling?: Pooling;
  classes?: number;
  /** [height, width]; default: the card's inputSize. */
  inputSize?: [number, number];
  /** MobileNet width multiplier. */
  alpha?: number;
  /** Activation of the classifier ('softmax' in Keras). */
  classifierActivation?: 'softmax' | 'linear';
}
