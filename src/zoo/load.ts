// The one build chokepoint (timm's build_model_with_cfg): resolves a zoo name or a
// model path, builds the network, loads weights strictly, and returns a Backbone.
// classify, extract, bench and `models info` all come through here.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../runtime/tf.js';
import { modelHandler, readModelJson } from '../weights/tfjs-artifacts.js';
import { BackbonesError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import type { ModelCard, WeightsSource } from './card.js';
import type { PreprocessMode } from '../images/preprocess.js';
import { resolveModel } from './registry.js';
import { buildArchitecture } from './architectures.js';
import { countMacs } from './macs.js';
import { randomizeWeights } from './random.js';
import { Backbone, type BackboneInfo, type WeightsInfo } from './backbone.js';
import type { Engine } from '../engines/types.js';
import { int8WithoutOnnx, type Int8Settings } from './int8.js';
import { imagenetLabels, parseLabels, readLabelsFile, type Label } from './labels.js';
import { resolveCacheDir } from '../weights/cache.js';
import { isUrl } from '../weights/download.js';
import { planWeights, type WeightsPlan } from '../weights/resolve.js';
import { readKerasH5 } from '../weights/h5.js';
import { readTfjsLayersWeights } from '../weights/tfjs.js';
import { assignWeights, describeReport } from '../weights/assign.js';
import type { WeightsFile } from '../weights/types.js';

/** How a model is chosen and fed: the options classify, extract, bench and models share. */
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
  /** onnx engine: fp32 (default) or int8 (needs calibrate, int8Model or a cached int8 model). */
  precision?: 'fp32' | 'int8';
  /** int8: folder of representative images to calibrate on. */
  calibrate?: string;
  /** int8: a model written by `backbones quantize`. */
  int8Model?: string;
}

/** Just the ModelSelection fields of a larger options object (to hand to a worker). */
export function modelSelection(o: ModelSelection): ModelSelection {
  const { weights, alpha, inputSize, preprocess, labels, labelOffset, seed, cacheDir, precision, calibrate, int8Model } = o;
  return { weights, alpha, inputSize, preprocess, labels, labelOffset, seed, cacheDir, precision, calibrate, int8Model };
}

export interface LoadOptions extends ModelSelection {
  /** The engine that runs the model (startEngine in src/engines). */
  engine: Engine;
  /** Build without the classifier head (features only). */
  includeTop?: boolean;
  /** false: never download (bench uses cached-or-random). */
  allowDownload?: boolean;
}

/**
 * --precision int8: where the int8 model comes from, when the engine is ONNX Runtime. On
 * another engine it is an error, or fp32 with a warning under --backend auto.
 */
function int8Settings(options: LoadOptions): Int8Settings | undefined {
  if (resolvePrecision(options) !== 'int8') return undefined;
  const choice = options.engine.choice;
  if (choice.backend !== 'onnx') {
    int8WithoutOnnx(choice.requested === 'auto', choice.backend);
    return undefined;
  }
  return { calibrate: options.calibrate, int8Model: options.int8Model };
}

/** --calibrate / --int8-model alone mean int8; with an explicit fp32 they are a usage error. */
export function resolvePrecision(o: ModelSelection): 'fp32' | 'int8' {
  const int8Source = o.calibrate !== undefined || o.int8Model !== undefined;
  if (o.precision === 'fp32' && int8Source) throw new BackbonesError('E_USAGE', '--calibrate and --int8-model are for --precision int8, not fp32.');
  return o.precision ?? (int8Source ? 'int8' : 'fp32');
}

export async function loadBackbone(spec: string, options: LoadOptions): Promise<Backbone> {
  const model = resolveModel(spec);
  return 'card' in model ? loadZooModel(model.card, options) : loadModelFile(model.path, options);
}

// --- zoo ------------------------------------------------------------------------

async function loadZooModel(card: ModelCard, options: LoadOptions): Promise<Backbone> {
  if (options.alpha !== undefined && card.architectureOptions?.alpha === undefined) {
    throw new BackbonesError('E_USAGE', `--alpha only applies to MobileNets; ${card.name} has no width multiplier.`);
  }
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
  return new Backbone(info, model, options.engine, { cacheDir: resolveCacheDir(options.cacheDir), int8: int8Settings(options) });
}

async function applyZooWeights(card: ModelCard, model: tf.LayersModel, plan: WeightsPlan): Promise<WeightsInfo> {
  if (plan.kind === 'random') {
    randomizeWeights(model, plan.seed);
    return { kind: 'random', description: `random (seed ${plan.seed}, He-uniform; not pretrained)` };
  }
  const report = assignWeights(model, await readWeightsFile(plan.location, plan.format), { strict: true });
  const summary = describeReport(report);
  if (plan.kind === 'file') log.info(`${card.name}: ${summary} from ${plan.origin}`);
  else log.debug(summary);
  return { kind: plan.kind, description: `${plan.kind === 'imagenet' ? 'imagenet ' : ''}${plan.origin}: ${summary}`, matchedBy: report.matchedBy };
}

async function readWeightsFile(location: string, format: WeightsSource['format']): Promise<WeightsFile> {
  return format === 'keras-h5' ? readKerasH5(location) : readTfjsLayersWeights(location);
}

// --- any TF.js model file --------------------------------------------------------

async function loadModelFile(spec: string, options: LoadOptions): Promise<Backbone> {
  if (options.weights && options.weights !== 'imagenet') {
    throw new BackbonesError('E_USAGE', `--weights applies to zoo models; ${spec} carries its own weights.`);
  }
  if (!isUrl(spec) && !existsSync(spec)) throw new BackbonesError('E_NOT_FOUND', `Model not found: ${spec}`);
  let json: tf.io.ModelJSON;
  let location: string;
  try {
    ({ json, location } = await readModelJson(spec));
  } catch (e) {
    throw new BackbonesError('E_MODEL', `Cannot read the model at ${spec}: ${errorMessage(e)}`);
  }
  const topology = json.modelTopology as { node?: unknown; model_config?: unknown; class_name?: string } | undefined;
  const isGraph = json.format === 'graph-model' || Array.isArray(topology?.node);
  let model: tf.LayersModel | tf.GraphModel;
  try {
    model = isGraph ? await tf.loadGraphModel(modelHandler(location)) : await tf.loadLayersModel(modelHandler(location));
  } catch (e) {
    throw new BackbonesError('E_MODEL', `Cannot load the model at ${spec}: ${errorMessage(e)}`);
  }
  const inputShape = (model instanceof tf.GraphModel ? model.inputs[0]?.shape : model.inputs[0]?.shape) ?? [];
  const [h, w] = [inputShape[1], inputShape[2]];
  const fixed: [number, number] | null = typeof h === 'number' && h > 0 && typeof w === 'number' && w > 0 ? [h, w] : null;
  const inputSize = options.inputSize ?? fixed;
  if (!inputSize) {
    model.dispose();
    throw new BackbonesError('E_USAGE', `${spec} does not fix its input size; pass --input-size (e.g. 224 or 299x299).`);
  }
  if (fixed && options.inputSize && (fixed[0] !== options.inputSize[0] || fixed[1] !== options.inputSize[1])) {
    model.dispose();
    throw new BackbonesError('E_USAGE', `${spec} takes ${fixed[0]}x${fixed[1]} images; --input-size ${options.inputSize.join('x')} does not fit.`);
  }
  let preprocess = options.preprocess;
  if (!preprocess) {
    preprocess = 'tf';
    log.warn(`${spec} does not say how to preprocess its input; assuming 'tf' (x/127.5 - 1, as Keras MobileNet/Inception). Pass --preprocess to choose.`);
  }
  const labels = options.labels ? await readLabelsFile(options.labels) : await labelsBesideModel(location);
  const parameters = model instanceof tf.GraphModel ? graphParameters(model) : model.countParams();
  const info: BackboneInfo = {
    name: spec,
    source: isGraph ? 'graph-model' : 'layers-model',
    card: null,
    inputSize,
    preprocess,
    interpolation: 'bilinear',
    resize: 'squash',
    featureLayer: null,
    parameters,
    macs: model instanceof tf.GraphModel ? null : countMacs(model),
    weights: { kind: 'model', description: `the model's own (${location})` },
    labels,
    labelOffset: options.labelOffset ?? 0,
  };
  // A missing --label-offset is hinted by classify, which sees the output size of every model kind.
  return new Backbone(info, model, options.engine, { cacheDir: resolveCacheDir(options.cacheDir), int8: int8Settings(options) });
}

/** labels in metadata.json beside model.json (the TF.js mobilenet convention), if any. */
async function labelsBesideModel(location: string): Promise<Label[] | null> {
  if (isUrl(location)) return null;
  const meta = path.join(path.dirname(location), 'metadata.json');
  if (!existsSync(meta)) return null;
  try {
    const json = JSON.parse(await readFile(meta, 'utf8')) as { labels?: unknown };
    return Array.isArray(json.labels) ? parseLabels(JSON.stringify(json.labels), meta) : null;
  } catch {
    return null;
  }
}

function graphParameters(model: tf.GraphModel): number {
  const weights = (model as unknown as { weights?: Record<string, tf.Tensor[]> }).weights ?? {};
  let n = 0;
  for (const list of Object.values(weights)) for (const t of list) n += t.size;
  return n;
}
