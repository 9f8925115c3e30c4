// The one build chokepoint (timm's build_model_with_cfg): the registry resolves the
// spec; a zoo model is built from its card and gets the weights the resolver plans
// (assigned strictly), a model file is opened (model-file.ts); either becomes a Backbone
// on the given engine. classify, extract, bench, serve and `models info` all come through here.
import { tf } from '../tf.js';
import { log } from '../log.js';
import type { ModelCard, WeightsSource } from './card.js';
import type { PreprocessMode } from '../images/preprocess.js';
import { resolveModel } from './registry.js';
import { buildArchitecture } from './architectures.js';
import { countMacs } from './macs.js';
import { randomizeWeights } from './random.js';
import { Backbone, type BackboneInfo, type ModelPrecision, type WeightsInfo } from './backbone.js';
import type { Engine } from '../engines/types.js';
import { openModelFile } from './model-file.js';
import { imagenetLabels, readLabelsFile } from './labels.js';
import { resolveCacheDir } from '../weights/cache.js';
import { planWeights, type WeightsPlan } from '../weights/resolve.js';
import { readKerasH5 } from '../weights/h5.js';
import { readTfjsLayersWeights } from '../weights/tfjs.js';
import { assignWeights, describeReport } from '../weights/assign.js';
import type { WeightsFile } from '../weights/types.js';

/** How a model is chosen and fed: what the loader takes (src/spec builds it from a RunSpec; `models info` from its flags). */
export interface ModelSelection {
  /** imagenet (default), random, or a path/URL to a Keras .h5 or TF.js model.json. */
  weights?: string;
  alpha?: number;
  inputSize?: [number, number];
  preprocess?: PreprocessMode;
  /** Labels file (JSON array, Keras class-index JSON, or text). */
  labels?: string;
  labelOffset?: number;
  seed?: number;
  cacheDir?: string;
}

export interface LoadOptions extends ModelSelection {
  /** The engine that runs the model (startEngine in src/engines). */
  engine: Engine;
  /** Default fp32. */
  precision?: ModelPrecision;
  /** Build without the classifier head (features only). */
  includeTop?: boolean;
  /** false: never download (bench uses cached-or-random). */
  allowDownload?: boolean;
  /** false: run every batch as given, never as sub-batches of a measured best size (bench measures the sizes themselves). */
  splitBatches?: boolean;
}

export async function loadBackbone(spec: string, options: LoadOptions): Promise<Backbone> {
  const resolved = resolveModel(spec);
  const { model, info } = 'card' in resolved ? await buildZooModel(resolved.card, options) : await openModelFile(resolved.path, options);
  return new Backbone(info, model, options.engine, {
    cacheDir: resolveCacheDir(options.cacheDir),
    ...(options.precision ? { precision: options.precision } : {}),
    ...(options.splitBatches === false ? { splitBatches: false } : {}),
  });
}

/** A zoo model: the card's architecture with the planned weights. */
async function buildZooModel(card: ModelCard, options: LoadOptions): Promise<{ model: tf.LayersModel; info: BackboneInfo }> {
  const includeTop = options.includeTop ?? true;
  const inputSize = options.inputSize ?? card.inputSize;
  // Find (or download) the weights before building: a missing file fails in a second, not after VGG16 is built.
  const plan = await planWeights(card, { ...options, includeTop });
  const model = buildArchitecture(card.architecture, {
    ...(card.architectureOptions as { alpha?: number }),
    ...(options.alpha !== undefined ? { alpha: options.alpha } : {}),
    includeTop,
    inputSize,
  });
  let weights: WeightsInfo;
  try {
    weights = await applyZooWeights(card, model, plan);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const info: BackboneInfo = {
    name: card.name,
    source: 'zoo',
    card,
    inputSize,
    preprocess: options.preprocess ?? card.preprocess,
    interpolation: card.interpolation,
    resize: card.resize,
    featureLayer: card.featureLayer,
    parameters: model.countParams(),
    macs: countMacs(model),
    weights,
    labels: includeTop ? (options.labels ? await readLabelsFile(options.labels) : imagenetLabels()) : null,
    labelOffset: options.labelOffset ?? 0,
  };
  return { model, info };
}

async function applyZooWeights(card: ModelCard, model: tf.LayersModel, plan: WeightsPlan): Promise<WeightsInfo> {
  if (plan.kind === 'random') {
    randomizeWeights(model, plan.seed);
    return { kind: 'random', description: `random (seed ${plan.seed}, He-uniform; not pretrained)` };
  }
  const report = assignWeights(model, await readWeightsFile(plan.location, plan.format), { strict: true });
  const summary = describeReport(report);
  // The run's model line says it (weights <description>); said here too it was said twice.
  log.debug(`${card.name}: ${summary} from ${plan.origin}`);
  return { kind: plan.kind, description: `${plan.kind === 'imagenet' ? 'imagenet ' : ''}${plan.origin}: ${summary}`, matchedBy: report.matchedBy };
}

async function readWeightsFile(location: string, format: WeightsSource['format']): Promise<WeightsFile> {
  return format === 'keras-h5' ? readKerasH5(location) : readTfjsLayersWeights(location);
}
