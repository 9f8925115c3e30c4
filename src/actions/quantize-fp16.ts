// `backbones quantize -m MODEL --precision fp16`: the fp16 export for a GPU engine (cached where
// --precision fp16 finds it), optionally evaluated against fp32 on held-out images, the
// figures kept beside it for `models info` and in the -o file's metadata.
import { startEngine, engineLine } from '../engines/select.js';
import { BackbonesError, EXIT } from '../errors.js';
import { log, out, plural } from '../log.js';
import { resolveCacheDir } from '../weights/cache.js';
import type { tf } from '../tf.js';
import { resolveSpec, type SpecOptions } from '../spec/spec.js';
import { loadForSpec } from '../spec/load.js';
import { exposedLayers } from './quantize.js';
import { calibrationImages } from '../zoo/backbone.js';

/** quantize --precision fp16: the spec's options (a GPU engine) and the evaluation's. */
export interface QuantizeFp16Options extends SpecOptions {
  evaluate?: string;
  output?: string;
  format?: 'table' | 'json';
}

export interface Fp16Report {
  model: string;
  precision: 'fp16';
  weights: string;
  engine: string;
  keptFloat32: string[];
  evaluation: import('../onnx/fp16-evaluate.js').Fp16Evaluation | null;
  sizeByte: number;
  fp32SizeByte: number;
  cacheFile: string | null;
  output: string | null;
}

export async function runQuantizeFp16(spec: string, o: QuantizeFp16Options): Promise<number> {
  const { exportToOnnx, weightsHash, onnxCacheKey } = await import('../onnx/index.js');
  const { onnxCachePath, writeAtomically } = await import('../onnx/cache.js');
  const { evaluateFp16, writeFp16Sidecar } = await import('../onnx/fp16-evaluate.js');
  const q = await import('../onnx/quantize/index.js');
  // A GPU engine with shader-f16 on webgpu: checked by the spec before it starts, then on the adapter it took.
  const { layer, ...rest } = o;
  const resolved = await resolveSpec({ ...rest, model: spec, precision: 'fp16', calibrate: undefined, int8Model: undefined });
  const engine = await startEngine(resolved.engine);
  log.info(`backend: ${engineLine(engine.choice)}`);
  const providers = engine.choice.onnx!.executionProviders;
  const backbone = await loadForSpec(resolved, engine, { allowDownload: true });
  const info = backbone.info;
  if (info.source === 'graph-model') throw new BackbonesError('E_USAGE', `${spec} is a graph model; fp16 is made from the ONNX export of Keras layers models.`);
  if (info.weights.kind === 'random') log.warn('random weights: the fp16 model is fine for speed, its accuracy figures mean nothing.');
  const model = backbone.model as tf.LayersModel;
  const layers = exposedLayers(backbone, layer);
  const featureLayer = layers[0] ?? info.featureLayer;
  const subject = { model, name: spec, featureLayer: info.featureLayer, images: calibrationImages(info) };
  const evalFolder = o.evaluate ? await q.openImageFolder(o.evaluate, '--evaluate', subject.images) : undefined;
  // The feature layer as an output, like int8's file: the same export serves extract's default layer.
  const outputs = q.int8ExportOutputs(subject, layers);
  const fp32 = exportToOnnx(model, { outputs });
  const fp16 = exportToOnnx(model, { outputs, precision: 'fp16' });
  const wh = await weightsHash(model);
  const classifier = model.outputs.length === 1 ? model.outputs[0]!.sourceLayer.name : null;
  backbone.dispose();

  let evaluation: Awaited<ReturnType<typeof evaluateFp16>> | undefined;
  if (evalFolder) {
    const { batches, failed } = await q.decodeFolder(evalFolder, subject.images, 8, '--evaluate');
    for (const f of failed) log.warn(`evaluation: skipped ${f.path}: ${f.error}`);
    log.info(`${spec}: evaluating fp16 on ${providers[0]} against fp32 on the CPU on ${plural(batches.reduce((s, b) => s + b.shape[0], 0), 'image')}…`);
    const images = batches.reduce((s, b) => s + b.shape[0], 0);
    if (images === 0) throw new BackbonesError('E_USAGE', `--evaluate ${o.evaluate}: no readable image.`);
    // Timed on a batch of at most 8 of the held-out images (fewer: no image counted twice).
    evaluation = await evaluateFp16(fp32.bytes, fp16.bytes, batches, { classifierOutput: classifier, featureOutput: featureLayer, threads: engine.choice.threads, providers, speedBatchSize: Math.min(8, images) });
  }
  // Cached under the key --precision fp16 looks for (pretrained weights only, as the engine does).
  const cacheFile =
    info.weights.kind !== 'random' ? onnxCachePath(resolveCacheDir(o.cacheDir), onnxCacheKey({ weightsHash: wh, architecture: info.card?.architecture ?? info.name, outputs, precision: 'fp16' })) : null;
  const keptFloat32 = fp16.keptFloat32 ?? [];
  if (cacheFile) {
    await writeAtomically(cacheFile, fp16.bytes);
    await writeFp16Sidecar(cacheFile, {
      model: spec,
      precision: 'fp16',
      weights: info.weights.description,
      outputs: fp16.outputNames,
      keptFloat32,
      adapter: engine.choice.adapter,
      ...(evaluation ? { evaluation } : {}),
      createdAt: new Date().toISOString(),
    });
  }
  if (o.output) {
    const m = q.readModel(fp16.bytes);
    q.setMetadata(m, {
      [q.META.precision]: 'fp16',
      [q.META.weightsHash]: wh,
      [q.META.outputs]: JSON.stringify(fp16.outputNames),
      ...(evaluation ? { [q.META.evaluation]: JSON.stringify({ ...evaluation, adapter: engine.choice.adapter, evaluationHash: evalFolder!.hash, evaluatedOn: evalFolder!.dir }) } : {}),
    });
    await writeAtomically(o.output, q.writeModel(m));
  }
  const report: Fp16Report = {
    model: spec,
    precision: 'fp16',
    weights: info.weights.description,
    engine: engineLine(engine.choice),
    keptFloat32,
    evaluation: evaluation ?? null,
    sizeByte: fp16.bytes.byteLength,
    fp32SizeByte: fp32.bytes.byteLength,
    cacheFile,
    output: o.output ?? null,
  };
  const format = o.format ?? (process.stdout.isTTY ? 'table' : 'json');
  process.stdout.write(format === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatFp16Report(report));
  return EXIT.ok;
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
const num = (x: number | null, d = 4) => (x === null ? 'n/a' : x.toFixed(d));
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

export function formatFp16Report(r: Fp16Report): string {
  const lines = [
    out.bold(`${r.model} fp16`) + `  (${r.weights})`,
    `  engine           ${r.engine}`,
    `  kept in fp32     ${r.keptFloat32.join(', ') || 'none'}`,
    `  size             ${mib(r.sizeByte)} (fp32 ${mib(r.fp32SizeByte)})`,
  ];
  const e = r.evaluation;
  if (e) {
    const p = e.fp32OnProviders;
    lines.push(
      out.bold(`fp16 on ${e.providers[0]} against fp32 on the CPU, ${e.images} held-out images`),
      `  top-1 agreement  ${pct(e.top1Agreement)}`,
      `  top-5 overlap    ${pct(e.top5Overlap)}`,
      `  max |p diff|     ${num(e.maxProbabilityDiff)}`,
      `  feature cosine   mean ${num(e.featureCosineMean)}, worst ${num(e.featureCosineWorst)}${e.featureLayer ? ` (${e.featureLayer})` : ''}`,
      `  fp32 on ${e.providers[0]}   top-1 agreement ${pct(p.top1Agreement)}, max |p diff| ${num(p.maxProbabilityDiff, 6)}, feature cosine worst ${num(p.featureCosineWorst, 6)}`,
      `  speed-up         ${e.speedup.toFixed(2)}x over fp32 on ${e.providers[0]} (batch ${e.speed.batchSize}, median of ${e.speed.runs} alternating runs: fp32 ${e.speed.fp32MedianMs.toFixed(1)} ms, fp16 ${e.speed.fp16MedianMs.toFixed(1)} ms, load average ${e.speed.loadAverage.join(' ')})`,
    );
  }
  if (r.cacheFile) lines.push(out.dim(`  cached at ${r.cacheFile}`));
  if (r.output) lines.push(`  written to ${r.output}`);
  return lines.join('\n') + '\n';
}
