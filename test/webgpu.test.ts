// WebGPU for real: ONNX Runtime's bundled webgpu provider on Mesa's lavapipe (software
// Vulkan) here and in CI, on the real 0.25 MobileNet. Slow on a CPU (the first session
// compiles its shaders), so each engine is started once and the photos go in one batch.
// On a machine with a hardware GPU the assertions about lavapipe still hold: auto must
// then take the hardware adapter, and --device gpu must work.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { startEngine } from '../src/engines/select.js';
import { probeWebgpu } from '../src/engines/webgpu-probe.js';
import { cudaProviderInstalled } from '../src/engines/onnx.js';
import type { Engine, WebgpuReport } from '../src/engines/types.js';
import { loadBackbone } from '../src/zoo/load.js';
import type { Backbone } from '../src/zoo/backbone.js';
import { loadImageForModel } from '../src/images/index.js';
import { IMAGES, MODELS, skipWithoutData } from './helpers/data.js';
import { skipWithoutLavapipe } from './helpers/webgpu.js';
import { maxRelDiff } from './helpers/compare.js';
import { runCli } from './helpers/cli.js';

const skip = skipWithoutData() || skipWithoutLavapipe();
const MODEL = MODELS('mobilenet_v1_0.25_224');
const PHOTOS = ['cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png', 'apple_red__opencv.jpg', 'cameraman_tripod_gray__skimage.png'];
const LAYER = 'conv_pw_13_relu';

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

describe('WebGPU on lavapipe', { skip }, () => {
  let report: WebgpuReport;
  let webgpu: Engine;
  let cpu: Engine;
  let onWebgpu: Backbone;
  let onCpu: Backbone;
  let batch: tf.Tensor4D;

  before(async () => {
    report = await probeWebgpu({ ort: 'always' });
    webgpu = await startEngine({ providers: ['webgpu'] });
    cpu = await startEngine({ providers: ['cpu'] });
    onWebgpu = await loadBackbone(MODEL, { preprocess: 'tf', engine: webgpu });
    onCpu = await loadBackbone(MODEL, { preprocess: 'tf', engine: cpu });
    const images = await Promise.all(PHOTOS.map((p) => loadImageForModel(IMAGES(p), { size: [224, 224], preprocess: 'tf' })));
    const data = new Float32Array(images.length * 224 * 224 * 3);
    images.forEach((img, i) => data.set(img.input, i * 224 * 224 * 3));
    batch = tf.tensor4d(data, [images.length, 224, 224, 3]);
  });
  after(() => {
    batch?.dispose();
    onWebgpu?.dispose();
    onCpu?.dispose();
  });

  test('the probe sees lavapipe as a software adapter and ONNX Runtime runs on it', (t) => {
    const lavapipe = report.adapters.find((a) => /llvmpipe/.test(`${a.device} ${a.description}`));
    assert.ok(lavapipe, `adapters: ${JSON.stringify(report.adapters)} (${report.listing})`);
    assert.equal(lavapipe.software, true);
    assert.equal(report.ortRuns, true, report.reason ?? '');
    assert.equal(report.vulkanLoader, true);
    assert.ok(report.vulkanDrivers.includes('lvp_icd.json'));
    t.diagnostic(`lavapipe: ${lavapipe.description}; features: ${lavapipe.features.join(', ')}`);
  });

  test('an explicit --provider webgpu runs on the adapter it names', () => {
    const c = webgpu.choice;
    assert.equal(c.backend, 'onnx');
    assert.equal(c.provider, 'webgpu');
    assert.equal(c.device, 'gpu');
    assert.deepEqual(c.onnx!.executionProviders, ['webgpu']);
    // ORT takes Dawn's high-performance adapter: the probe's first.
    assert.ok(c.adapter.startsWith(report.adapters[0]!.description), c.adapter);
    assert.equal(cpu.choice.device, 'cpu');
  });

  test('webgpu matches cpu on the real 0.25 MobileNet: top-1, probabilities, an extract layer', async (t) => {
    const [pw, pc] = [await onWebgpu.probabilities(batch), await onCpu.probabilities(batch)];
    const [w, c] = [pw.arraySync(), pc.arraySync()];
    tf.dispose([pw, pc]);
    let maxDiff = 0;
    for (let i = 0; i < PHOTOS.length; i++) {
      assert.equal(argmax(w[i]!), argmax(c[i]!), `${PHOTOS[i]}: top-1`);
      for (let k = 0; k < c[i]!.length; k++) maxDiff = Math.max(maxDiff, Math.abs(w[i]![k]! - c[i]![k]!));
    }
    t.diagnostic(`top-1 ${c.map(argmax).join(', ')}; max |p diff| ${maxDiff.toExponential(2)}`);
    assert.ok(maxDiff < 1e-3, `probabilities differ by ${maxDiff}`);
    const [fw, fc] = [await onWebgpu.features(batch, LAYER), await onCpu.features(batch, LAYER)];
    assert.deepEqual(fw.shape, fc.shape);
    const rel = maxRelDiff(fc.dataSync(), fw.dataSync());
    tf.dispose([fw, fc]);
    t.diagnostic(`${LAYER}: max rel diff ${rel.toExponential(2)}`);
    assert.ok(rel < 1e-3, `${LAYER}: max rel diff ${rel}`);
    assert.equal(onWebgpu.engineName, 'onnx');
  });

  test('auto does not pick lavapipe; it takes a hardware adapter only', async () => {
    const { choice } = await startEngine({ device: 'auto', providers: [] });
    assert.doesNotMatch(choice.adapter, /llvmpipe|software/);
    const hardware = report.adapters.some((a) => !a.software);
    if (!hardware && !cudaProviderInstalled() && choice.backend === 'onnx') {
      assert.equal(choice.device, 'cpu');
      assert.match(choice.reason, /no GPU for ONNX Runtime: only a software adapter \(llvmpipe/);
    }
  });

  test('CLI: --provider webgpu classifies and its backend line names engine, provider and adapter', async () => {
    const r = await runCli(['--provider', 'webgpu', 'classify', IMAGES(PHOTOS[0]!), '-m', MODEL, '--preprocess', 'tf', '-k', '1', '-f', 'jsonl']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).predictions[0].index, 285);
    assert.match(r.stderr, /backend: onnx \(onnxruntime-node [\d.]+, webgpu, \d+ threads?\) on GPU \S+.*\((.*, )?(software|hardware)\)/);
  });

  test('CLI: --device gpu with only a software adapter fails with the reason, before reading inputs', async () => {
    const r = await runCli(['--device', 'gpu', 'classify', IMAGES(PHOTOS[0]!), '-m', MODEL, '--preprocess', 'tf', '-f', 'jsonl']);
    if (report.adapters.some((a) => !a.software) || cudaProviderInstalled()) {
      assert.equal(r.code, 0, r.stderr); // a GPU machine: --device gpu must work
      assert.match(r.stderr, /backend: .* on GPU /);
      return;
    }
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Error: --device gpu: no GPU engine could start: .*only a software adapter \(llvmpipe[^\n]*\.\n$/m);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  });

  test('CLI: with no Vulkan driver visible, --device gpu and --provider webgpu say so (no hang, no crash)', async () => {
    const env = { VK_ICD_FILENAMES: '/nonexistent_icd.json', VK_DRIVER_FILES: undefined };
    const args = ['classify', IMAGES(PHOTOS[0]!), '-m', MODEL, '--preprocess', 'tf', '-f', 'jsonl'];
    const [gpu, webgpu] = await Promise.all([runCli(['--device', 'gpu', ...args], { env }), runCli(['--provider', 'webgpu', ...args], { env })]);
    assert.equal(webgpu.code, 1, webgpu.stderr);
    assert.match(webgpu.stderr, /^Error: The onnx backend cannot start: ONNX Runtime's webgpu provider cannot run here: no Vulkan driver /m);
    if (cudaProviderInstalled() || /backend: tensorflow \(GPU/.test(gpu.stderr)) return; // CUDA needs no Vulkan driver
    assert.equal(gpu.code, 1, gpu.stderr);
    assert.match(gpu.stderr, /no GPU for ONNX Runtime: no Vulkan driver .*graphics capability/);
  });

  test('CLI: bench reports device, provider and adapter per row', async () => {
    const r = await runCli(['--provider', 'webgpu', 'bench', MODEL, '--preprocess', 'tf', '--batch-sizes', '1', '-n', '2', '--warmup', '1', '-f', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout).models[0];
    assert.equal(m.status, 'ok', m.error);
    assert.equal(m.backend, 'onnx');
    assert.equal(m.device, 'gpu');
    assert.equal(m.provider, 'webgpu');
    assert.ok(m.adapter.startsWith(report.adapters[0]!.description), m.adapter);
  });
});
