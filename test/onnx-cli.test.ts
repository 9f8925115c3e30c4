// The onnx backend through the built CLI: same answers as TensorFlow.js on real
// photos, the .onnx cache, graph models, and bench --backends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { runCli } from './helpers/cli.js';
import { maxRelDiff } from './helpers/compare.js';
import { IMAGES, MODELS, skipWithoutData } from './helpers/data.js';
import { cacheWithMobilenet025, parseJsonl } from './helpers/cache.js';
import type { BenchReport } from '../src/measure/result.js';

const skip = skipWithoutData();
const PHOTOS = ['cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png', 'mandrill_baboon__opencv.jpg', 'rocket_falcon9_launchpad__skimage.jpg'].map(IMAGES);

test('classify: onnx and wasm give the same top-5 and probabilities within 1e-4', { skip }, async () => {
  const cache = cacheWithMobilenet025();
  const args = ['classify', ...PHOTOS, '-m', 'mobilenet_0.25', '-k', '5'];
  const [onnx, wasm] = await Promise.all([
    runCli(['--backend', 'onnx', ...args], { env: { BACKBONES_CACHE: cache } }),
    runCli(['--backend', 'wasm', ...args], { env: { BACKBONES_CACHE: cache } }),
  ]);
  assert.equal(onnx.code, 0, onnx.stderr);
  assert.match(onnx.stderr, /backend: onnx/);
  assert.match(wasm.stderr, /backend: wasm/);
  const a = parseJsonl(onnx.stdout);
  const b = parseJsonl(wasm.stdout);
  for (let i = 0; i < PHOTOS.length; i++) {
    assert.deepEqual(a[i]!.predictions.map((p: { index: number }) => p.index), b[i]!.predictions.map((p: { index: number }) => p.index), PHOTOS[i]);
    for (let j = 0; j < 5; j++) assert.ok(Math.abs(a[i]!.predictions[j].prob - b[i]!.predictions[j].prob) < 1e-4);
  }
  // The exported .onnx is cached under the weights' hash and reused by the next run.
  assert.equal(readdirSync(path.join(cache, 'onnx')).filter((f) => f.endsWith('.onnx')).length, 1);
  const again = await runCli(['--debug', '--backend', 'onnx', ...args], { env: { BACKBONES_CACHE: cache } });
  assert.match(again.stderr, /ONNX reused from cache/);
  assert.equal(again.stdout, onnx.stdout);
});

test('extract a spatial layer: onnx vs wasm within 1e-4 relative', { skip }, async () => {
  const cache = cacheWithMobilenet025();
  const args = ['extract', ...PHOTOS.slice(0, 2), '-m', 'mobilenet_0.25', '--layer', 'conv_pw_13_relu'];
  const [onnx, wasm] = await Promise.all([
    runCli(['--backend', 'onnx', ...args], { env: { BACKBONES_CACHE: cache } }),
    runCli(['--backend', 'wasm', ...args], { env: { BACKBONES_CACHE: cache } }),
  ]);
  assert.equal(onnx.code, 0, onnx.stderr);
  const a = parseJsonl(onnx.stdout);
  const b = parseJsonl(wasm.stdout);
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(a[i]!.shape, [7, 7, 256]);
    const rel = maxRelDiff(b[i]!.vector, a[i]!.vector);
    assert.ok(rel < 1e-4, `rel diff ${rel}`);
  }
});

test('a graph model: auto runs it on tfjs with a warning; --backend onnx refuses clearly', { skip }, async () => {
  const args = ['classify', PHOTOS[0]!, '-m', MODELS('mobilenet_v1_0.25_224_graph'), '--preprocess', 'unit', '--label-offset', '1', '-k', '1'];
  const auto = await runCli(args);
  assert.equal(auto.code, 0, auto.stderr);
  assert.match(auto.stderr, /runs on TensorFlow\.js \(wasm\) instead of ONNX Runtime: graph models cannot be exported/);
  assert.equal(parseJsonl(auto.stdout)[0]!.predictions[0].index, 285);
  const onnx = await runCli(['--backend', 'onnx', ...args]);
  assert.equal(onnx.code, 3);
  assert.match(onnx.stderr, /cannot run on the onnx backend: graph models cannot be exported.*Use --backend wasm/);
});

test('bench --backends wasm,onnx: one row per model and backend', async () => {
  const r = await runCli(['bench', 'mobilenet_0.25', '--backends', 'wasm,onnx', '--weights', 'random', '--iterations', '5', '--batch-sizes', '4', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as BenchReport;
  assert.deepEqual(report.models.map((m) => [m.model, m.backend, m.status]), [['mobilenet_0.25', 'wasm', 'ok'], ['mobilenet_0.25', 'onnx', 'ok']]);
  // One label per backend with its adapter; thread counts and the device depend on the machine.
  assert.match(report.runtime.backend, /^wasm \((no )?SIMD, \d+ threads?\) on CPU .+; onnx \(onnxruntime-node [\d.]+, [a-z+]+, \d+ threads?\) on (CPU|GPU) /);
  assert.deepEqual(report.models.map((m) => m.provider === undefined ? 'none' : m.device), ['cpu', report.models[1]!.provider === 'cpu' ? 'cpu' : 'gpu']);
  assert.equal(report.models[1]!.runs[0]!.samplesMs.length, 5);
});

test('--threads 1 reaches ONNX Runtime', { skip }, async () => {
  const r = await runCli(['--threads', '1', '--backend', 'onnx', 'classify', PHOTOS[1]!, '-m', 'mobilenet_0.25', '-k', '1'], { env: { BACKBONES_CACHE: cacheWithMobilenet025() } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /backend: onnx \(onnxruntime-node [\d.]+, [a-z+]+, 1 thread\)/);
  assert.equal(parseJsonl(r.stdout)[0]!.predictions[0].label, 'espresso');
});
