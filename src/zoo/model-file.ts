// Any TF.js model file (a layers or graph model.json, its folder, or a URL) as a model
// for load.ts to wrap in a Backbone: the model, its input size, preprocessing, labels
// (--labels, else metadata.json beside it) and cost. Zoo models are built from cards instead.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../tf.js';
import { BackbonesError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import type { PreprocessMode } from '../images/preprocess.js';
import { isUrl } from '../weights/download.js';
import { modelHandler, readModelJson } from '../weights/tfjs-artifacts.js';
import type { BackboneInfo } from './backbone.js';
import { countMacs } from './macs.js';
import { parseLabels, readLabelsFile, type Label } from './labels.js';

/** The options of a model selection that apply to a model file. */
export interface ModelFileOptions {
  /** Only 'imagenet' (the default) or unset: a model file carries its own weights. */
  weights?: string;
  inputSize?: [number, number];
  preprocess?: PreprocessMode;
  labels?: string;
  labelOffset?: number;
}

/** Loads a TF.js layers or graph model from a model.json path, its folder or a URL, and describes it. */
export async function openModelFile(spec: string, options: ModelFileOptions): Promise<{ model: tf.LayersModel | tf.GraphModel; info: BackboneInfo }> {
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
  return { model, info };
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
