// What int8 costs in accuracy, with real weights: the real models under ../shared/data,
// calibrated on half of its photos and evaluated against fp32 on the other half.
// Only 27 real photos exist, so the evaluation half is augmented (each photo also
// mirrored, and center-cropped to 80 % then resized back): 13 photos -> 39 images; the
// calibration half is used as is plus its mirror images (26). Augmented images are not
// independent samples: read the figures as indicative.
//   npx tsx bench/int8-accuracy.ts [--models mobilenet_v1_0.25_224,nsfwjs_mobilenet_v2,nsfwjs_inception_v3]
import os from 'node:os';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { tf } from '../src/tf.js';
import { modelHandler } from '../src/weights/tfjs-artifacts.js';
import { loadImageForModel } from '../src/images/index.js';
import type { PreprocessMode } from '../src/images/preprocess.js';
import { exportToOnnx } from '../src/onnx/export.js';
import { DEFAULT_POLICY, DEFAULT_QUANTIZE_OPTIONS, encodeQuantized, evaluateInt8, inspectOptimized, quantizeOnnx, type QuantizeOptions } from '../src/onnx/quantize/index.js';
import type { CalibrationBatch } from '../src/onnx/quantize/calibrate.js';

const DATA = path.resolve(process.env.BACKBONES_TEST_DATA ?? '../shared/data');
const MODELS: Record<string, { size: [number, number]; preprocess: PreprocessMode }> = {
  'mobilenet_v1_0.25_224': { size: [224, 224], preprocess: 'tf' },
  nsfwjs_mobilenet_v2: { size: [224, 224], preprocess: 'unit' },
  nsfwjs_inception_v3: { size: [299, 299], preprocess: 'unit' },
};
const { values } = parseArgs({ options: { models: { type: 'string', default: Object.keys(MODELS).join(',') }, threads: { type: 'string', default: String(os.availableParallelism()) } } });
const threads = Number(values.threads);
await tf.setBackend('cpu');

const photos = readdirSync(path.join(DATA, 'images')).filter((f) => !f.startsWith('truncated')).sort();

function augment(x: Float32Array, [h, w]: [number, number], crop: boolean): Float32Array[] {
  return tf.tidy(() => {
    const t = tf.tensor4d(x, [1, h, w, 3]);
    const out = [tf.reverse(t, 2)];
    if (crop) out.push(tf.image.cropAndResize(t, [[0.1, 0.1, 0.9, 0.9]], [0], [h, w]));
    return out.map((o) => o.dataSync() as Float32Array);
  });
}

function batch(xs: Float32Array[], [h, w]: [number, number], size: number): CalibrationBatch[] {
  const out: CalibrationBatch[] = [];
  for (let i = 0; i < xs.length; i += size) {
    const chunk = xs.slice(i, i + size);
    const data = new Float32Array(chunk.length * h * w * 3);
    chunk.forEach((x, j) => data.set(x, j * h * w * 3));
    out.push({ data, shape: [chunk.length, h, w, 3] });
  }
  return out;
}

const VARIANTS: Array<[string, Partial<QuantizeOptions>]> = [
  ['default (percentile 99.999)', {}],
  ['minmax', { method: 'minmax' }],
  ['first conv int8', { policy: { ...DEFAULT_POLICY, firstConv: true } }],
  ['depthwise fp32', { policy: { ...DEFAULT_POLICY, depthwise: false } }],
];

console.log(`# int8 vs fp32 with real weights; ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores, ${threads} threads, ${new Date().toISOString()}`);
console.log('| model | variant | int8 convs | kept fp32 | integer kernels (optimized graph) | eval images | top-1 agreement | top-5 overlap | feature cosine mean | worst | speed-up b8 | load avg |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const name of values.models!.split(',')) {
  const spec = MODELS[name]!;
  const model = await tf.loadLayersModel(modelHandler(path.join(DATA, 'models', name)));
  // The pooled backbone output: Keras' GlobalAveragePooling2D, or the nsfwjs heads' Flatten of the pooled map.
  const gap = [...model.layers].reverse().find((l) => ['GlobalAveragePooling2D', 'Flatten'].includes(l.getClassName()))?.name ?? null;
  const classifier = model.outputs[0]!.sourceLayer.name;
  const fp32 = exportToOnnx(model, { outputs: gap ? [gap] : [] }).bytes;
  model.dispose();
  const inputs: Float32Array[] = [];
  for (const f of photos) inputs.push((await loadImageForModel(path.join(DATA, 'images', f), { size: spec.size, preprocess: spec.preprocess })).input);
  const calib = inputs.filter((_, i) => i % 2 === 0).flatMap((x) => [x, ...augment(x, spec.size, false)]);
  const evaluation = inputs.filter((_, i) => i % 2 === 1).flatMap((x) => [x, ...augment(x, spec.size, true)]);
  console.error(`${name}: feature layer ${gap}, classifier ${classifier}, ${calib.length} calibration and ${evaluation.length} evaluation images`);
  const evalBatches = batch(evaluation, spec.size, 8);
  for (const [variant, opts] of VARIANTS) {
    if (variant === 'depthwise fp32' && name === 'nsfwjs_inception_v3') continue;
    const options = { ...DEFAULT_QUANTIZE_OPTIONS, threads, ...opts };
    async function* it() {
      yield* batch(calib, spec.size, 1);
    }
    const { model: q, summary } = await quantizeOnnx(fp32, it(), options);
    const int8 = encodeQuantized(q);
    const optimized = await inspectOptimized(int8, threads);
    const e = await evaluateInt8(fp32, int8, evalBatches, { classifierOutput: classifier, featureOutput: gap, threads });
    const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
    const kept = summary.floatLayers.map((l) => l.layer);
    console.log(
      `| ${name} | ${variant} | ${summary.quantizedConvs} | ${kept.length > 4 ? `${kept.length} layers` : kept.join(', ')} | ${optimized.integerKernels} | ${e.images} | ${pct(e.top1Agreement)} | ${pct(e.top5Overlap)} | ${e.featureCosineMean?.toFixed(4)} | ${e.featureCosineWorst?.toFixed(4)} | ${e.speedup.toFixed(2)}x | ${os.loadavg()[0]!.toFixed(2)} |`,
    );
  }
}
