// `backbones quantize`: load the model, quantize it on the calibration folder, check that
// ONNX Runtime turned it into integer kernels, optionally evaluate it against fp32, and
// write it (cache + -o) with the figures in its metadata.
import { performance } from 'node:perf_hooks';
import { startEngine } from '../engines/select.js';
import { BackbonesError, EXIT } from '../errors.js';
import { log } from '../log.js';
import { loadBackbone, modelSelection, type ModelSelection } from '../zoo/load.js';
import { resolveCacheDir } from '../weights/cache.js';
import { writeAtomically } from '../onnx/cache.js';
import { weightsHash } from '../onnx/hash.js';
import type { tf } from '../tf.js';
import { formatQuantizeReport, type QuantizeReport } from './quantize-report.js';

export interface QuantizeRunOptions extends ModelSelection {
  threads?: number;
  calibrate: string;
  evaluate?: string;
  output?: string;
  method: 'percentile' | 'minmax';
  percentile: number;
  keepFloat?: string[];
  /** The layer whose features are compared (default: the card's feature layer). */
  layer?: string;
  format?: 'table' | 'json';
}

/** --layer (checked to exist), else the card's feature layer. */
export function comparedLayer(backbone: { hasLayer(name: string): boolean; name: string; info: { featureLayer: string | null } }, layer: string | undefined): string | null {
  if (layer === undefined) return backbone.info.featureLayer;
  if (!backbone.hasLayer(layer)) throw new BackbonesError('E_USAGE', `${backbone.name} has no layer "${layer}"; list them with \`backbones models info ${backbone.name} --layers\`.`);
  return layer;
}

export async function runQuantize(spec: string, o: QuantizeRunOptions): Promise<number> {
  const q = await import('../onnx/quantize/index.js');
  if (o.percentile <= 50 || o.percentile > 100) throw new BackbonesError('E_USAGE', `--percentile must be in (50, 100]. Received: ${o.percentile}`);
  // Quantizing needs ONNX Runtime whatever --backend says; tfjs (cpu) only builds the model.
  const engine = await startEngine({ backend: 'onnx', device: 'cpu', providers: ['cpu'], ...(o.threads !== undefined ? { threads: o.threads } : {}) });
  const threads = engine.choice.threads;
  const { precision: _p, calibrate: _c, int8Model: _m, ...selection } = modelSelection(o);
  const backbone = await loadBackbone(spec, { ...selection, allowDownload: true, engine });
  const info = backbone.info;
  if (info.source === 'graph-model') throw new BackbonesError('E_MODEL', `${spec} is a graph model; the quantizer works on the ONNX export of Keras layers models.`);
  if (info.weights.kind === 'random') log.warn('random weights: the int8 model is fine for speed, its accuracy figures mean nothing.');
  const model = backbone.model as tf.LayersModel;
  const featureLayer = comparedLayer(backbone, o.layer);
  const subject = {
    model,
    name: spec,
    featureLayer,
    images: { size: info.inputSize, preprocess: info.preprocess, resize: info.resize, interpolation: info.interpolation },
    weightsDescription: info.weights.description,
  };
  const folder = await q.calibrationFolder(subject, o.calibrate);
  const evalFolder = o.evaluate ? await q.openImageFolder(o.evaluate, '--evaluate', subject.images) : undefined;
  const outputs = q.int8ExportOutputs(subject, []);
  const opts = {
    ...q.DEFAULT_QUANTIZE_OPTIONS,
    method: o.method,
    percentile: o.percentile,
    // Same settings object as `--precision int8 --calibrate` builds when nothing is kept, so both share one cache entry.
    policy: o.keepFloat?.length ? { ...q.DEFAULT_POLICY, keep: o.keepFloat } : q.DEFAULT_POLICY,
    threads,
  };
  const wh = await weightsHash(model);
  const t0 = performance.now();
  log.info(`${spec}: calibrating on ${folder.files.length} images in ${o.calibrate} (${o.method}${o.method === 'percentile' ? ` ${o.percentile}` : ''})…`);
  let made;
  try {
    made = await q.makeInt8(subject, folder, outputs, opts, wh);
  } catch (e) {
    throw q.asModelError(subject, e);
  }
  const quantizeMs = performance.now() - t0;
  backbone.dispose();
  const optimized = await q.inspectOptimized(made.bytes, threads);
  if (optimized.integerKernels === 0) log.warn(`${spec}: ONNX Runtime fused no integer kernel on this machine; int8 will not be faster here.`);

  let bytes = made.bytes;
  let evaluation: Awaited<ReturnType<typeof q.evaluateInt8>> | undefined;
  if (evalFolder) {
    const { batches, failed } = await q.decodeFolder(evalFolder, subject.images, 8, '--evaluate');
    for (const f of failed) log.warn(`evaluation: skipped ${f.path}: ${f.error}`);
    log.info(`${spec}: evaluating int8 against fp32 on ${batches.reduce((s, b) => s + b.shape[0], 0)} images…`);
    const classifier = model.outputs.length === 1 ? model.outputs[0]!.sourceLayer.name : null;
    evaluation = await q.evaluateInt8(made.fp32, made.bytes, batches, { classifierOutput: classifier, featureOutput: featureLayer, threads });
    const m = q.readModel(bytes);
    q.setMetadata(m, { [q.META.evaluation]: JSON.stringify({ ...evaluation, evaluationHash: evalFolder.hash, evaluatedOn: evalFolder.dir }) });
    bytes = q.writeModel(m);
  }

  const cacheDir = resolveCacheDir(o.cacheDir);
  const cacheFile = q.int8CachePath(cacheDir, wh, q.int8CacheParts(folder.hash, outputs, opts));
  await writeAtomically(cacheFile, bytes);
  const described = q.describeInt8(bytes);
  await q.writeSidecar(cacheFile, {
    model: spec,
    weights: info.weights.description,
    calibration: { dir: o.calibrate, images: made.calibrationImages, hash: folder.hash },
    outputs: described.outputs,
    summary: described.summary,
    integerKernels: optimized.integerKernels,
    ...(evaluation ? { evaluation } : {}),
    createdAt: new Date().toISOString(),
  });
  if (o.output) await writeAtomically(o.output, bytes);

  const report: QuantizeReport = {
    model: spec,
    weights: info.weights.description,
    calibration: { dir: o.calibrate, images: made.calibrationImages, skipped: made.skipped.length, method: o.method, ...(o.method === 'percentile' ? { percentile: o.percentile } : {}) },
    quantizedConvs: (described.summary as { quantizedConvs: number }).quantizedConvs,
    floatLayers: (described.summary as { floatLayers: Array<{ layer: string; op: string; why: string }> }).floatLayers,
    optimizedGraph: { integerKernels: optimized.integerKernels, leftoverQdq: optimized.leftoverQdq, floatConvs: optimized.floatConvs },
    evaluation: evaluation ?? null,
    quantizeMs,
    sizeByte: bytes.byteLength,
    fp32SizeByte: made.fp32.byteLength,
    cacheFile,
    output: o.output ?? null,
  };
  const format = o.format ?? (process.stdout.isTTY ? 'table' : 'json');
  process.stdout.write(format === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatQuantizeReport(report));
  return EXIT.ok;
}
