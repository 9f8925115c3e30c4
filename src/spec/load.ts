// A spec made real: the model loaded on an engine (checked against what the spec asks of
// it), the image settings it is fed with, what is recorded with its results, and what
// the run's header says runs. The only place that builds image settings or loader
// options from the options of a run.
import { usageError } from '../errors.js';
import { precisionRefusal } from '../onnx/precision.js';
import type { ImageSettings } from '../images/model-input.js';
import type { Engine } from '../engines/types.js';
import { loadBackbone } from '../zoo/load.js';
import type { Backbone, BackboneInfo } from '../zoo/backbone.js';
import { layerProblem } from '../tasks/layers.js';
import { describeFields, networkFields, specRecord, type SpecRecord } from './fingerprint.js';
import { shortIdentity } from './identity.js';
import type { RunSpec } from './types.js';

export interface LoadSpecOptions {
  /** false: never download (threads and processes the parent already fetched weights for). */
  allowDownload?: boolean;
  /** This machine's cache (a queue worker's own --cache-dir), instead of the spec's. */
  cacheDir?: string;
  /** false: run every batch as given, never as sub-batches of a measured best size (bench measures the sizes themselves). */
  splitBatches?: boolean;
}

/** Loads the spec's model on `engine` and checks the task against it; nothing is written. */
export async function loadForSpec(spec: RunSpec, engine: Engine, o: LoadSpecOptions = {}): Promise<Backbone> {
  // The engine chosen must run the precision (fp16: a GPU adapter with shader-f16), before the model is built.
  if (spec.precision !== 'fp32' && spec.precision !== 'int8') {
    const why = precisionRefusal(spec.precision, engine.choice);
    if (why) throw usageError(`${why}.`);
  }
  const cacheDir = o.cacheDir ?? spec.cacheDir;
  const backbone = await loadBackbone(spec.model, {
    weights: spec.weights,
    seed: spec.seed,
    ...(spec.alpha !== undefined ? { alpha: spec.alpha } : {}),
    ...(spec.inputSize ? { inputSize: spec.inputSize } : {}),
    ...(spec.preprocess ? { preprocess: spec.preprocess } : {}),
    ...(spec.labels !== undefined ? { labels: spec.labels } : {}),
    labelOffset: spec.labelOffset,
    ...(cacheDir !== undefined ? { cacheDir } : {}),
    ...(o.allowDownload !== undefined ? { allowDownload: o.allowDownload } : {}),
    ...(o.splitBatches === false ? { splitBatches: false } : {}),
    ...(spec.precision !== 'fp32'
      ? { precision: { precision: spec.precision, ...(spec.int8 ? { int8: spec.int8 } : {}), fallback: spec.engine.backend === 'auto', source: networkFields(spec) } }
      : {}),
    engine,
  });
  try {
    checkLoaded(spec, backbone);
  } catch (e) {
    backbone.dispose();
    throw e;
  }
  return backbone;
}

/** What the spec asks of the loaded model: its layers (extract, serve's default layer), a label per class. */
export function checkLoaded(spec: RunSpec, backbone: Backbone): void {
  const model = { name: backbone.name, layers: backbone.layers() };
  const problem =
    spec.task?.kind === 'extract' ? layerProblem(model, spec.task.layer, spec.task.pool) : spec.defaultLayer ? layerProblem(model, spec.defaultLayer, 'none') : null;
  if (problem) throw usageError(problem);
  // A zoo model's classes were checked with its card; a layers model file says its own.
  const labels = backbone.info.labels;
  const last = model.layers[model.layers.length - 1]?.outputShape;
  if (spec.labels !== undefined && spec.source === 'file' && labels && last && last.length > 0 && last.every((d) => d > 0)) {
    const classes = last.reduce((a, b) => a * b, 1) - spec.labelOffset;
    if (labels.length !== classes) {
      throw usageError(`--labels ${spec.labels} has ${labels.length} label${labels.length === 1 ? '' : 's'}; ${backbone.name} has ${classes} classes${spec.labelOffset ? ` after --label-offset ${spec.labelOffset}` : ''}.`);
    }
  }
}

/** How images reach this model: the spec's image handling at the model's input size and preprocessing. */
export function imageSettingsOf(spec: RunSpec, info: Pick<BackboneInfo, 'inputSize' | 'preprocess'>): ImageSettings {
  const { image } = spec;
  return {
    size: info.inputSize,
    preprocess: info.preprocess,
    resize: image.resize,
    interpolation: image.interpolation,
    background: image.background,
    kerasCompat: image.kerasCompat,
    decode: image.decode,
  };
}

/** What is recorded with this run's results, once the engine holds the model (the precision and int8 model that run). */
export function recordOf(spec: RunSpec, backbone: Pick<Backbone, 'precision' | 'int8'>): SpecRecord {
  return specRecord(spec, { precision: backbone.precision, ...(backbone.int8 ? { int8: shortIdentity(backbone.int8.sha256) } : {}) });
}

/** The run's header lines after the model line: the precision that runs (and which int8 model), and the fingerprint. */
export function headerLines(spec: RunSpec, backbone: Pick<Backbone, 'precision' | 'int8'>): string[] {
  const int8 = backbone.int8;
  const record = recordOf(spec, backbone);
  return [
    `precision: ${backbone.precision}${int8 ? `, int8 model ${int8.file}${int8.made ? ' (made now)' : ''}, ${int8.calibration}` : ''}`,
    `spec ${record.fingerprint}: ${describeFields(record.fields)}`,
  ];
}
