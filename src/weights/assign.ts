// Puts weights read from a file (Keras .h5 or TF.js) into a built tf.LayersModel.
//
// Porting note: tfjs-layers loads only by name (container.ts: "TensorFlow.js Layers
// supports only loading by name currently"), while Keras loads application weights by
// layer order (load_weights_from_hdf5_group), since auto-generated names such as
// conv2d_1 differ between Keras versions and sessions. We do both, in this order:
//   1. by name, when every model layer that has weights finds a file layer of the same
//      name that has weights;
//   2. otherwise by topological order: model.layers with weights vs file layers with
//      weights, pairwise, every shape checked.
// Within a layer, weights pair up by their short names ('kernel', 'gamma', ...) when
// both sides have the same set of unique names, else by order (Keras' rule); the
// order is the same in Keras and tfjs-layers (Conv2D [kernel, bias], BatchNormalization
// [gamma, beta, moving_mean, moving_variance] without gamma when scale=false,
// DepthwiseConv2D [depthwise_kernel, bias], Dense [kernel, bias]).
// Strict (the default) loads nothing unless every model weight gets a value of the right
// shape and the file has nothing left over, like tfjs' loadWeights(strict=true).
import { tf } from '../tf.js';
import { WeightsError } from './errors.js';
import { shortWeightName, type LayerWeights, type WeightArray, type WeightsFile } from './types.js';

export interface AssignOptions {
  /** Throw (and assign nothing) on any missing, unexpected or mismatched weight. Default true. */
  strict?: boolean;
  /** With strict: tolerate file layers the model does not use (e.g. a with-top file into a no-top model). */
  allowUnexpected?: boolean;
}

export interface WeightMismatch {
  /** Model layer. */
  layer: string;
  /** The file layer it was paired with (differs from layer when matched by order). */
  fileLayer: string;
  /** Weight short name ('kernel'), or 'weight count' when the layers hold different numbers of weights. */
  weight: string;
  /** Model shape (for 'weight count': [model count]). */
  expected: number[];
  /** File shape (for 'weight count': [file count]). */
  got: number[];
  /** One readable line, e.g. "block1_conv1 (file: conv2d_7) kernel: expected [3,3,3,64], got [3,3,3,32]". */
  detail: string;
}

export interface AssignReport {
  matchedBy: 'name' | 'order';
  /** Layers whose weights were set. */
  assigned: number;
  /** Model layers with weights that got none from the file (no counterpart). */
  missing: string[];
  /** File layers with weights that no model layer used. */
  unexpected: string[];
  mismatched: WeightMismatch[];
  /** Weight variables set / in the model. */
  weightsSet: number;
  weightsTotal: number;
}

type Layer = tf.layers.Layer;

interface Pair {
  layer: Layer;
  file: LayerWeights;
}

const fmt = (shape: readonly number[]) => `[${shape.join(',')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** For each model weight, the file weight it takes, or the mismatches that forbid it. */
function matchLayer(pair: Pair): { ordered: WeightArray[]; mismatches: WeightMismatch[] } {
  const { layer, file } = pair;
  const modelWeights = layer.weights;
  const where = layer.name === file.name ? layer.name : `${layer.name} (file: ${file.name})`;
  const modelShort = modelWeights.map((w) => shortWeightName(w.originalName));
  if (modelWeights.length !== file.weights.length) {
    const fileShort = file.weights.map((w) => shortWeightName(w.name));
    return {
      ordered: [],
      mismatches: [
        {
          layer: layer.name,
          fileLayer: file.name,
          weight: 'weight count',
          expected: [modelWeights.length],
          got: [file.weights.length],
          detail: `${where}: expected ${modelWeights.length} weights (${modelShort.join(', ')}), got ${file.weights.length} (${fileShort.join(', ')})`,
        },
      ],
    };
  }
  const fileByShort = new Map(file.weights.map((w) => [shortWeightName(w.name), w]));
  const byName =
    new Set(modelShort).size === modelShort.length &&
    fileByShort.size === file.weights.length &&
    modelShort.every((n) => fileByShort.has(n));
  const ordered = byName ? modelShort.map((n) => fileByShort.get(n)!) : file.weights;
  const mismatches: WeightMismatch[] = [];
  modelWeights.forEach((w, i) => {
    const got = ordered[i].shape;
    if (!sameShape(w.shape as number[], got)) {
      mismatches.push({
        layer: layer.name,
        fileLayer: file.name,
        weight: modelShort[i],
        expected: [...(w.shape as number[])],
        got: [...got],
        detail: `${where} ${modelShort[i]}: expected ${fmt(w.shape as number[])}, got ${fmt(got)}`,
      });
    }
  });
  return { ordered, mismatches };
}

function listSome(names: string[], max = 5): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, … (${names.length - max} more)` : shown;
}

/**
 * Assigns `file`'s weights to `model` (see the strategy above). Returns a report; with
 * strict (default) throws a WeightsError instead, before assigning anything, unless
 * every weight fits. Creates no tensors that outlive the call.
 */
export function assignWeights(model: tf.LayersModel, file: WeightsFile, options: AssignOptions = {}): AssignReport {
  const { strict = true, allowUnexpected = false } = options;
  const modelLayers = model.layers.filter((l) => l.weights.length > 0);
  const fileLayers = file.layers.filter((l) => l.weights.length > 0);
  const fileByName = new Map(fileLayers.map((l) => [l.name, l]));

  let matchedBy: AssignReport['matchedBy'];
  let pairs: Pair[];
  let missing: string[];
  let unexpected: string[];
  if (modelLayers.every((l) => fileByName.has(l.name))) {
    matchedBy = 'name';
    pairs = modelLayers.map((layer) => ({ layer, file: fileByName.get(layer.name)! }));
    const used = new Set(modelLayers.map((l) => l.name));
    missing = [];
    unexpected = fileLayers.filter((l) => !used.has(l.name)).map((l) => l.name);
  } else {
    matchedBy = 'order';
    const n = Math.min(modelLayers.length, fileLayers.length);
    pairs = modelLayers.slice(0, n).map((layer, i) => ({ layer, file: fileLayers[i] }));
    missing = modelLayers.slice(n).map((l) => l.name);
    unexpected = fileLayers.slice(n).map((l) => l.name);
  }

  const mismatched: WeightMismatch[] = [];
  const good: { layer: Layer; ordered: WeightArray[] }[] = [];
  for (const pair of pairs) {
    const { ordered, mismatches } = matchLayer(pair);
    if (mismatches.length) mismatched.push(...mismatches);
    else good.push({ layer: pair.layer, ordered });
  }

  const weightsTotal = modelLayers.reduce((s, l) => s + l.weights.length, 0);
  const weightsSet = good.reduce((s, g) => s + g.layer.weights.length, 0);
  const report: AssignReport = { matchedBy, assigned: 0, missing, unexpected, mismatched, weightsSet, weightsTotal };

  if (strict && (missing.length || mismatched.length || (unexpected.length && !allowUnexpected))) {
    throw new WeightsError(strictMessage(report));
  }

  tf.tidy(() => {
    for (const { layer, ordered } of good) {
      // Tensors made here are released by tidy; the variables keep their own reference.
      layer.setWeights(ordered.map((w) => tf.tensor(w.data, w.shape, 'float32')));
    }
  });
  report.assigned = good.length;
  return report;
}

function strictMessage(r: AssignReport): string {
  const parts = [`Weights do not fit the model (matched by ${r.matchedBy}): ${r.weightsTotal - r.weightsSet} of ${r.weightsTotal} weights are not set.`];
  if (r.mismatched.length) {
    const shown = r.mismatched.slice(0, 5).map((m) => m.detail);
    const more = r.mismatched.length > 5 ? `; … (${r.mismatched.length - 5} more)` : '';
    parts.push(`Mismatched (${r.mismatched.length}): ${shown.join('; ')}${more}.`);
  }
  if (r.missing.length) parts.push(`Missing from the file (${r.missing.length}): ${listSome(r.missing)}.`);
  if (r.unexpected.length) parts.push(`Not in the model (${r.unexpected.length}): ${listSome(r.unexpected)}.`);
  return parts.join(' ');
}

/** One line, e.g. "Loaded 28 layers by name (0 missing, 2 unexpected: fc1, fc2)". */
export function describeReport(r: AssignReport): string {
  const part = (label: string, names: string[]) => `${names.length} ${label}${names.length ? `: ${listSome(names)}` : ''}`;
  const mism = [...new Set(r.mismatched.map((m) => m.layer))];
  const extra = mism.length ? `, ${part('mismatched', mism)}` : '';
  return `Loaded ${r.assigned} layers by ${r.matchedBy} (${part('missing', r.missing)}, ${part('unexpected', r.unexpected)}${extra})`;
}
