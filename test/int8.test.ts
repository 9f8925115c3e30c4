// int8 quantization (src/onnx/quantize) on the real MobileNet v1 0.25 and real photos:
// ONNX Runtime turns the QDQ graph into integer kernels, the int8 model agrees with fp32
// within the bounds README states, calibration is deterministic, bad input is refused
// with one clear sentence. Plus the pieces in isolation (ranges, scales, planning).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tf } from '../src/tf.js';
import { modelHandler } from '../src/weights/tfjs-artifacts.js';
import { exportToOnnx } from '../src/onnx/export.js';
import { decodeFolder, evaluateInt8, inspectOptimized, openImageFolder, quantizeOnnx, encodeQuantized, DEFAULT_QUANTIZE_OPTIONS, describeInt8, thisCpu, schemeFor, schemeLabel, describeCpu } from '../src/onnx/quantize/index.js';
import { RangeCollector } from '../src/onnx/quantize/ranges.js';
import { activationParams, quantizeWeights } from '../src/onnx/quantize/qdq.js';
import { planQuantization, UnquantizableModelError, DEFAULT_POLICY } from '../src/onnx/quantize/plan.js';
import { readModel } from '../src/onnx/quantize/model.js';
import { GraphBuilder } from '../src/onnx/graph.js';
import { attr } from '../src/onnx/proto.js';
import { runCli } from './helpers/cli.js';
import { cacheWithMobilenet025, parseJsonl } from './helpers/cache.js';
import { IMAGES, MODELS, skipWithoutData } from './helpers/data.js';
import { splitPhotos } from './helpers/photos.js';
import { fakeReport } from './helpers/bench-fixtures.js';
import { precisionNotFaster } from '../src/measure/precision.js';
import type { BenchReport } from '../src/measure/result.js';

const skip = skipWithoutData();
const SIZE: [number, number] = [224, 224];
const SETTINGS = { size: SIZE, preprocess: 'tf' as const };
const FEATURES = 'global_average_pooling2d_1';

describe('int8 MobileNet v1 0.25 (real weights, real photos)', { skip }, () => {
  let model: tf.LayersModel;
  let fp32: Uint8Array;
  let dirs: ReturnType<typeof splitPhotos>;
  const quantize = async () => {
    const folder = await openImageFolder(dirs.calib, '--calibrate', SETTINGS);
    const { batches } = await decodeFolder(folder, SETTINGS, 1, '--calibrate');
    async function* it() {
      yield* batches;
    }
    return quantizeOnnx(fp32, it(), { ...DEFAULT_QUANTIZE_OPTIONS, threads: 2 });
  };

  before(async () => {
    await tf.setBackend('cpu');
    model = await tf.loadLayersModel(modelHandler(MODELS('mobilenet_v1_0.25_224')));
    fp32 = exportToOnnx(model, { outputs: [FEATURES] }).bytes;
    dirs = splitPhotos();
  });
  after(() => {
    model.dispose();
    rmSync(dirs.root, { recursive: true, force: true });
  });

  test('ONNX Runtime runs the convs as integer kernels; one conversion in, one out', async () => {
    const { model: q, summary } = await quantize();
    // 28 convs: the first (raw pixels) and the classifier stay fp32 by default.
    assert.equal(summary.quantizedConvs, 26);
    assert.deepEqual(summary.floatLayers.map((l) => l.layer), ['conv1', 'conv_preds']);
    const optimized = await inspectOptimized(encodeQuantized(q), 2);
    assert.equal(optimized.ops.QLinearConv, 26, JSON.stringify(optimized.ops));
    assert.equal(optimized.floatConvs, 2, 'only the first conv and the classifier stay float convs');
    // One QuantizeLinear after conv1, one DequantizeLinear before the float head: no unfused pair in between.
    assert.equal(optimized.leftoverQdq, 2, JSON.stringify(optimized.ops));
  });

  test('agrees with fp32 on held-out photos within the README bounds', async () => {
    const int8 = encodeQuantized((await quantize()).model);
    const folder = await openImageFolder(dirs.evaluate, '--evaluate', SETTINGS);
    const { batches } = await decodeFolder(folder, SETTINGS, 8, '--evaluate');
    // The model.json's output layer is reshape_2 (Keras 2.1.4 reshapes the softmax).
    const e = await evaluateInt8(fp32, int8, batches, { classifierOutput: 'reshape_2', featureOutput: FEATURES, threads: 2, speedRuns: 1 });
    assert.equal(e.images, 13);
    assert.ok(e.featureCosineMean! >= 0.94, `feature cosine mean ${e.featureCosineMean}`);
    assert.ok(e.featureCosineWorst! >= 0.6, `feature cosine worst ${e.featureCosineWorst}`);
    assert.ok(e.top5Overlap! >= 0.6, `top-5 overlap ${e.top5Overlap}`);
    assert.ok(e.top1Agreement! >= 0.3, `top-1 agreement ${e.top1Agreement}`);
    // fp32 against itself: the yardstick reads exactly 1.
    const same = await evaluateInt8(fp32, fp32, batches.slice(0, 1), { classifierOutput: 'reshape_2', featureOutput: FEATURES, threads: 2, speedRuns: 1 });
    assert.equal(same.top1Agreement, 1);
    assert.ok(same.featureCosineWorst! > 0.99999);
  });

  test('calibration is deterministic: same folder, same model, byte-identical int8 model', async () => {
    const a = encodeQuantized((await quantize()).model);
    const b = encodeQuantized((await quantize()).model);
    assert.equal(Buffer.compare(Buffer.from(a), Buffer.from(b)), 0);
    const meta = describeInt8(a);
    assert.equal(meta.int8, true);
    assert.deepEqual(meta.outputs, ['reshape_2', FEATURES]);
  });
});

describe('quantizer pieces', () => {
  test('percentile ranges clip rare outliers; minmax keeps them', () => {
    const data = new Float32Array(100_000).map((_, i) => (i % 1000) / 1000);
    data[5] = 50; // one outlier
    const minmax = new RangeCollector('minmax');
    const pct = new RangeCollector('percentile', 99.99);
    minmax.add('t', data);
    pct.add('t', data);
    assert.deepEqual(minmax.range('t'), { min: 0, max: 50 });
    const r = pct.range('t')!;
    assert.equal(r.min, 0);
    assert.ok(r.max < 1.1 && r.max >= 0.99, `percentile max ${r.max}`);
  });

  test('uint8 activation parameters keep zero exact; non-negative ranges get zero point 0', () => {
    assert.deepEqual(activationParams({ min: 0, max: 6 }), { scale: Math.fround(6 / 255), zeroPoint: 0 });
    const signed = activationParams({ min: -1, max: 1 });
    assert.ok(signed.zeroPoint === 127 || signed.zeroPoint === 128, String(signed.zeroPoint));
    assert.equal(activationParams({ min: 2, max: 3 }).zeroPoint, 0, 'zero is always representable');
  });

  test('per-channel weights: symmetric scales, and a floor that keeps a large bias on a dead filter', () => {
    const w = Float32Array.of(0.5, -1, 0.25, 1e-12, -1e-12, 0);
    const { q, scales } = quantizeWeights(w, 2, 8);
    assert.deepEqual(Array.from(q.slice(0, 3)), [64, -127, 32]);
    assert.equal(scales[0], Math.fround(1 / 127));
    const floored = quantizeWeights(w, 2, 8, Float32Array.of(0, 1e-6));
    assert.ok(floored.scales[1]! >= Math.fround(1e-6), String(floored.scales[1]));
  });

  test('a graph without convolutions cannot be quantized (clear error)', () => {
    const g = new GraphBuilder();
    g.reserve('x', 'y');
    g.addInput('x', ['N', 4]);
    const w = g.floats('w', [4, 2], new Float32Array(8));
    g.node('Gemm', ['x', w], 'y', [attr.int('transB', 0)], 'y');
    g.addOutput('y', ['N', 2]);
    const model = readModel(g.encode('dense', 'test'));
    assert.throws(() => planQuantization(model.graph, DEFAULT_POLICY), UnquantizableModelError);
  });
});

describe('int8 through the CLI', { skip }, () => {
  let dirs: ReturnType<typeof splitPhotos>;
  before(() => {
    dirs = splitPhotos();
  });
  after(() => rmSync(dirs.root, { recursive: true, force: true }));
  const base = ['-m', 'mobilenet_0.25'];

  test('quantize --evaluate reports and stores the figures; classify and extract run the int8 model; models info shows it', async () => {
    const cache = cacheWithMobilenet025();
    const env = { BACKBONES_CACHE: cache };
    const file = path.join(dirs.root, 'm.int8.onnx');
    const q = await runCli(['quantize', '-m', 'mobilenet_0.25', '--calibrate', dirs.calib, '--evaluate', dirs.evaluate, '-o', file, '-f', 'json'], { env });
    assert.equal(q.code, 0, q.stderr);
    const report = JSON.parse(q.stdout);
    assert.equal(report.optimizedGraph.integerKernels, 26);
    assert.equal(report.evaluation.images, 13);
    assert.ok(report.evaluation.featureCosineMean >= 0.94);
    // The weights are in the encoding this CPU computes exactly, and say so (file, report, models info).
    const here = await thisCpu();
    assert.equal(report.encoding.label, schemeLabel(schemeFor(here)));
    assert.deepEqual(describeInt8(readFileSync(file)).encoding, { scheme: schemeFor(here), madeFor: here });
    assert.ok(report.evaluation.speedup > 0);
    // The same figures are in the model's metadata and in `models info`.
    assert.deepEqual(describeInt8(readFileSync(file)).evaluation, { ...report.evaluation, evaluationHash: (describeInt8(readFileSync(file)).evaluation as { evaluationHash: string }).evaluationHash, evaluatedOn: dirs.evaluate });
    const info = await runCli(['models', 'info', 'mobilenet_0.25'], { env });
    assert.match(info.stdout, /int8 \(cached, newest first\)/);
    assert.match(info.stdout, new RegExp(`top-1 agreement ${(report.evaluation.top1Agreement * 100).toFixed(1)} %`));
    assert.ok(info.stdout.includes(`weight encoding ${report.encoding.label}, made for ${describeCpu(here)}`), info.stdout);

    // classify --precision int8 finds the cached model (no --calibrate); the cat stays a cat.
    const photos = [IMAGES('cat_tabby_chelsea__skimage.png'), IMAGES('coffee_espresso_cup__skimage.png')];
    const c = await runCli(['--backend', 'onnx', 'classify', ...photos, ...base, '--precision', 'int8', '-k', '5'], { env });
    assert.equal(c.code, 0, c.stderr);
    const preds = parseJsonl(c.stdout);
    assert.ok([281, 282, 285, 287].includes(preds[0]!.predictions[0].index), JSON.stringify(preds[0]!.predictions[0]));
    assert.equal(preds[1]!.predictions[0].index, 967);
    // --calibrate with the same folder finds the model quantize cached instead of calibrating again.
    const again = await runCli(['--debug', '--backend', 'onnx', 'classify', photos[0]!, ...base, '--calibrate', dirs.calib], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.ok(again.stderr.includes(`int8 model from ${report.cacheFile}`), again.stderr);
    // extract from the -o file: the feature vector is close to fp32's.
    const [e8, e32] = await Promise.all([
      runCli(['--backend', 'onnx', 'extract', photos[0]!, ...base, '--int8-model', file], { env }),
      runCli(['--backend', 'onnx', 'extract', photos[0]!, ...base], { env }),
    ]);
    assert.equal(e8.code, 0, e8.stderr);
    const a = parseJsonl(e8.stdout)[0]!.vector as number[];
    const b = parseJsonl(e32.stdout)[0]!.vector as number[];
    const dot = a.reduce((s, x, i) => s + x * b[i]!, 0);
    const cos = dot / Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
    assert.ok(cos > 0.95 && cos < 1, `cosine ${cos}`);
  });

  test('quantize -o twice on the same folder writes byte-identical files', async () => {
    const cache = cacheWithMobilenet025();
    const files = [path.join(dirs.root, 'a.onnx'), path.join(dirs.root, 'b.onnx')];
    for (const f of files) {
      const r = await runCli(['quantize', '-m', 'mobilenet_0.25', '--calibrate', dirs.calib, '-o', f, '-f', 'json'], { env: { BACKBONES_CACHE: cache } });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(readFileSync(files[0]!).equals(readFileSync(files[1]!)));
  });

  test('bad calibration folders: empty, missing, nothing decodable -> one sentence, exit 2, no output file', async () => {
    const cache = cacheWithMobilenet025();
    const empty = path.join(dirs.root, 'empty');
    mkdirSync(empty, { recursive: true });
    const broken = path.join(dirs.root, 'broken');
    mkdirSync(broken, { recursive: true });
    symlinkSync(IMAGES('truncated__skimage.jpg'), path.join(broken, 'truncated.jpg'));
    const out = path.join(dirs.root, 'never.jsonl');
    const cases: Array<[string[], RegExp]> = [
      [['quantize', '-m', 'mobilenet_0.25', '--calibrate', empty], /--calibrate .*empty holds no images/],
      [['quantize', '-m', 'mobilenet_0.25', '--calibrate', path.join(dirs.root, 'missing')], /--calibrate .*missing: cannot read the folder/],
      [['quantize', '-m', 'mobilenet_0.25', '--calibrate', broken], /: its one image could not be decoded \(Cannot decode /],
      [['--backend', 'onnx', 'classify', IMAGES('cat_tabby_chelsea__skimage.png'), ...base, '--calibrate', empty, '-o', out], /holds no images/],
      [['--backend', 'onnx', 'classify', IMAGES('cat_tabby_chelsea__skimage.png'), ...base, '--precision', 'int8', '-o', out], /--precision int8 needs calibration/],
      [['--backend', 'wasm', 'classify', IMAGES('cat_tabby_chelsea__skimage.png'), ...base, '--precision', 'int8'], /runs on the onnx engine/],
      [['--backend', 'onnx', 'classify', IMAGES('cat_tabby_chelsea__skimage.png'), ...base, '--precision', 'fp32', '--calibrate', empty], /are for --precision int8/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { env: { BACKBONES_CACHE: cache } });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.throws(() => readFileSync(out), /ENOENT/);
  });

  test('a model the quantizer cannot handle: error under --backend onnx, fp32 with a warning under auto', async () => {
    await tf.setBackend('cpu');
    const dense = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [8, 8, 3] }), tf.layers.dense({ units: 3, activation: 'softmax', name: 'probs' })] });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await dense.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    dense.dispose();
    const dir = path.join(dirs.root, 'dense');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(tf.io.concatenateArrayBuffers(artifacts!.weightData as ArrayBuffer)));
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: artifacts!.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts!.weightSpecs }] }));
    const args = ['classify', IMAGES('cat_tabby_chelsea__skimage.png'), '-m', path.join(dir, 'model.json'), '--preprocess', 'unit', '--calibrate', dirs.calib];
    const strict = await runCli(['--backend', 'onnx', ...args]);
    assert.equal(strict.code, 1, strict.stderr);
    assert.match(strict.stderr, /cannot be quantized to int8: the model has no convolution/);
    const auto = await runCli(['--backend', 'auto', ...args]);
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(auto.stderr, /runs in fp32: .*cannot be quantized to int8/);
    assert.equal(parseJsonl(auto.stdout)[0]!.predictions.length, 3);
  });
});

describe('bench --precisions', { skip }, () => {
  test('one run measures fp32 and int8 side by side, with a precision column', async () => {
    const dirs = splitPhotos();
    try {
      const cache = cacheWithMobilenet025();
      const r = await runCli(['--backend', 'onnx', 'bench', 'mobilenet_0.25', '--precisions', 'fp32,int8', '--calibrate', dirs.calib, '--batch-sizes', '2', '--iterations', '2', '--warmup', '1', '-f', 'json'], { env: { BACKBONES_CACHE: cache } });
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as BenchReport;
      assert.deepEqual(report.models.map((m) => [m.model, m.backend, m.precision, m.status]), [
        ['mobilenet_0.25', 'onnx', 'fp32', 'ok'],
        ['mobilenet_0.25', 'onnx', 'int8', 'ok'],
      ]);
      const md = await runCli(['--backend', 'onnx', 'bench', 'mobilenet_0.25', '--precision', 'int8', '--batch-sizes', '1', '--iterations', '1', '--warmup', '0', '-f', 'markdown'], { env: { BACKBONES_CACHE: cache } });
      assert.equal(md.code, 0, md.stderr);
      assert.match(md.stdout, /\| model \| backend \| precision \|/);
      assert.match(md.stdout, /\| mobilenet_0\.25 \| onnx \| int8 \|/);
    } finally {
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });

  test('warns when int8 is not faster than fp32', () => {
    const report = fakeReport();
    const base = report.models[1]!;
    report.models = [
      { ...base, model: 'm', backend: 'onnx', precision: 'fp32' },
      { ...base, model: 'm', backend: 'onnx', precision: 'int8', runs: base.runs.map((r, i) => ({ ...r, imagesPerSecond: i === 0 ? r.imagesPerSecond * 0.9 : r.imagesPerSecond * 2 })) },
    ];
    const warnings = precisionNotFaster(report);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^m batch 1: int8 is not faster than fp32 on this machine/);
  });
});
