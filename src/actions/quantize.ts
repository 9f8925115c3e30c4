// `backbones quantize`: load the model, quantize it on the calibration folder, check that
// ONNX Runtime turned it into integer kernels, optionally evaluate it against fp32, and
// write it (cache + -o) with the figures in its metadata.
import { performance } from 'node:perf_hooks';
import { startEngine } from '../engines/select.js';
import { BackbonesError, EXIT } from '../errors.js';
import { log, plural } from '../log.js';
import { resolveCacheDir } from '../weights/cache.js';
import { calibrationImages } from '../zoo/backbone.js';
import { layerProblem } from '../tasks/layers.js';
import { checkFolder, resolveSpec, type SpecOptions } from '../spec/spec.js';
import { loadForSpec } from '../spec/load.js';
import { networkFields } from '../spec/fingerprint.js';
import { writeAtomically } from '../onnx/cache.js';
import { weightsHash } from '../onnx/hash.js';
import type { tf } from '../tf.js';
import { formatQuantizeReport, type QuantizeReport } from './quantize-report.js';

/** quantize: the spec's options for the fp32 network (its --calibrate is the quantizer's own), and the quantizer's. */
export interface QuantizeRunOptions extends SpecOptions {
  evaluate?: string;
  output?: string;
  method: 'percentile' | 'minmax';
  percentile: number;
  keepFloat?: string[];
  format?: 'table' | 'json';
}

/** --layer a,b: the layers a quantized model keeps as outputs besides the card's feature layer; --evaluate compares the first (default: the card's feature layer). */
export function exposedLayers(backbone: { name: string; layers(): ReturnType<import('../zoo/backbone.js').Backbone['layers']> }, layer: string | undefined): string[] {
  const layers = layer?.split(',').map((l) => l.trim()).filter(Boolean) ?? [];
  const problem = layers.map((l) => layerProblem({ name: backbone.name, layers: backbone.layers() }, l, 'none')).find((p) => p !== null);
  if (problem) throw new BackbonesError('E_USAGE', problem);
  return layers;
}

export async function runQuantize(model: string, o: QuantizeRunOptions): Promise<number> {
  const q = await import('../onnx/quantize/index.js');
  if (o.percentile <= 50 || o.percentile > 100) throw new BackbonesError('E_USAGE', `--percentile must be in (50, 100]. Received: ${o.percentile}`);
  // The network quantized, checked like any run's. Quantizing needs ONNX Runtime whatever
  // --backend says; tfjs (cpu) only builds the model.
  // --calibrate is the quantizer's folder here, --layer the layers (comma-separated) to expose besides the feature layer.
  const { calibrate = '', layer, ...rest } = o;
  const spec = await resolveSpec({ ...rest, model, precision: 'fp32', int8Model: undefined, backend: 'onnx', device: 'cpu', provider: 'cpu' });
  checkFolder(calibrate, '--calibrate');
  if (o.evaluate !== undefined) checkFolder(o.evaluate, '--evaluate');
  const engine = await startEngine(spec.engine);
  const threads = engine.choice.threads;
  const backbone = await loadForSpec(spec, engine, { allowDownload: true });
  const info = backbone.info;
  if (info.source === 'graph-model') throw new BackbonesError('E_MODEL', `${model} is a graph model; the quantizer works on the ONNX export of Keras layers models.`);
  log.info(`model: ${info.name} ${info.inputSize.join('x')}, preprocess ${info.preprocess}, weights ${info.weights.description}`);
  if (info.weights.kind === 'random') log.warn('random weights: the int8 model is fine for speed, its accuracy figures mean nothing.');
  const network = backbone.model as tf.LayersModel;
  const layers = exposedLayers(backbone, layer);
  const subject = {
    model: network,
    name: model,
    featureLayer: info.featureLayer,
    images: calibrationImages(info),
    weightsDescription: info.weights.description,
    // What it is made from: a run with --int8-model checks it against its own -m/-w.
    source: networkFields(spec),
  };
  const folder = await q.calibrationFolder(subject, calibrate);
  const evalFolder = o.evaluate ? await q.openImageFolder(o.evaluate, '--evaluate', subject.images) : undefined;
  const outputs = q.int8ExportOutputs(subject, layers);
  const cpu = await q.thisCpu();
  const opts = {
    ...q.DEFAULT_QUANTIZE_OPTIONS,
    method: o.method,
    percentile: o.percentile,
    // Same settings object as `--precision int8 --calibrate` builds when nothing is kept, so both share one cache entry.
    policy: o.keepFloat?.length ? { ...q.DEFAULT_POLICY, keep: o.keepFloat } : q.DEFAULT_POLICY,
    threads,
    cpu,
  };
  const wh = await weightsHash(network);
  const t0 = performance.now();
  log.info(`${model}: calibrating on ${plural(folder.files.length, 'image')} in ${calibrate} (${o.method}${o.method === 'percentile' ? ` ${o.percentile}` : ''})…`);
  let made;
  try {
    made = await q.makeInt8(subject, folder, outputs, opts, wh);
  } catch (e) {
    throw q.asModelError(subject, e);
  }
  const quantizeMs = performance.now() - t0;
  backbone.dispose();
  const optimized = await q.inspectOptimized(made.bytes, threads);
  if (optimized.integerKernels === 0) log.warn(`${model}: ONNX Runtime fused no integer kernel on this machine; int8 will not be faster here.`);

  let bytes = made.bytes;
  let evaluation: Awaited<ReturnType<typeof q.evaluateInt8>> | undefined;
  if (evalFolder) {
    const { batches, failed } = await q.decodeFolder(evalFolder, subject.images, 8, '--evaluate');
    for (const f of failed) log.warn(`evaluation: skipped ${f.path}: ${f.error}`);
    log.info(`${model}: evaluating int8 against fp32 on ${plural(batches.reduce((s, b) => s + b.shape[0], 0), 'image')}…`);
    const classifier = network.outputs.length === 1 ? network.outputs[0]!.sourceLayer.name : null;
    evaluation = await q.evaluateInt8(made.fp32, made.bytes, batches, { classifierOutput: classifier, featureOutput: layers[0] ?? info.featureLayer, threads });
    const m = q.readModel(bytes);
    q.setMetadata(m, { [q.META.evaluation]: JSON.stringify({ ...evaluation, evaluationHash: evalFolder.hash, evaluatedOn: evalFolder.dir }) });
    bytes = q.writeModel(m);
  }

  const cacheDir = resolveCacheDir(o.cacheDir);
  const cacheFile = q.int8CachePath(cacheDir, wh, q.int8CacheParts(folder.hash, outputs, opts));
  await writeAtomically(cacheFile, bytes);
  const described = q.describeInt8(bytes);
  await q.writeSidecar(cacheFile, {
    model,
    weights: info.weights.description,
    calibration: { dir: calibrate, images: made.calibrationImages, hash: folder.hash },
    outputs: described.outputs,
    summary: described.summary,
    integerKernels: optimized.integerKernels,
    ...(evaluation ? { evaluation } : {}),
    encoding: described.encoding,
    createdAt: new Date().toISOString(),
  });
  if (o.output) await writeAtomically(o.output, bytes);

  const report: QuantizeReport = {
    model,
    weights: info.weights.description,
    calibration: { dir: calibrate, images: made.calibrationImages, skipped: made.skipped.length, method: o.method, ...(o.method === 'percentile' ? { percentile: o.percentile } : {}) },
    quantizedConvs: (described.summary as { quantizedConvs: number }).quantizedConvs,
    floatLayers: (described.summary as { floatLayers: Array<{ layer: string; op: string; why: string }> }).floatLayers,
    optimizedGraph: { integerKernels: optimized.integerKernels, leftoverQdq: optimized.leftoverQdq, floatConvs: optimized.floatConvs },
    encoding: { scheme: described.encoding.scheme ?? null, label: described.encoding.scheme ? q.schemeLabel(described.encoding.scheme) : 'n/a', cpu, cpuLabel: q.describeCpu(cpu) },
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
