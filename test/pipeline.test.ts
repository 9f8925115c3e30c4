// Inputs and the batch runner in-process: ordering, symlink loops, broken links,
// and no tensors left behind however many batches run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, symlinkSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { expandInputs, parseExtensions } from '../src/images/inputs.js';
import { runBatches } from '../src/pipeline/batches.js';
import { startEngine } from '../src/engines/select.js';
import { loadBackbone } from '../src/zoo/load.js';
import { tf } from '../src/tf.js';
import { classifyBatch } from '../src/tasks/classify.js';
import { extractBatch } from '../src/tasks/extract.js';
import { IMAGES, MODELS, skipWithoutData } from './helpers/data.js';

const skip = skipWithoutData();

test('directories: recursive, sorted by code point, filtered by extension; loops and broken links reported', { skip }, async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'bb-inputs-'));
  mkdirSync(path.join(root, 'b'));
  mkdirSync(path.join(root, 'a'));
  copyFileSync(IMAGES('apple_red__opencv.jpg'), path.join(root, 'b', 'Z.JPG'));
  copyFileSync(IMAGES('apple_red__opencv.jpg'), path.join(root, 'a', 'x.jpg'));
  copyFileSync(IMAGES('apple_red__opencv.jpg'), path.join(root, 'a', 'notes.txt'));
  symlinkSync(root, path.join(root, 'b', 'loop')); // b/loop -> root
  symlinkSync(path.join(root, 'missing.png'), path.join(root, 'broken.png'));
  const entries = await expandInputs([root], { extensions: parseExtensions('jpg,png') });
  assert.deepEqual(
    entries.map((e) => [path.relative(root, e.path), e.error ? e.error.split(':')[0] : 'ok']),
    [
      ['a/x.jpg', 'ok'],
      ['b/Z.JPG', 'ok'],
      ['b/loop', 'symlink loop'],
      ['broken.png', 'cannot read'],
    ],
  );
  const txt = await expandInputs([root], { extensions: parseExtensions('.TXT') });
  assert.deepEqual(txt.map((e) => path.basename(e.path)), ['notes.txt', 'loop']);
});

test('stdin paths keep their order; blank lines are ignored; "-" only once', async () => {
  const stdin = Readable.from(['/b.jpg\n\n/a.jpg\n']);
  const entries = await expandInputs(['-'], { extensions: ['jpg'], stdin });
  assert.deepEqual(entries.map((e) => [e.path, e.error]), [['/b.jpg', 'file not found'], ['/a.jpg', 'file not found']]);
  await assert.rejects(expandInputs(['-', '-'], { extensions: ['jpg'], stdin: Readable.from([]) }), /only once/);
  assert.throws(() => parseExtensions(' , '), /--ext needs at least one extension/);
});

test('the batch runner leaves no tensors behind and keeps input order across batches', { skip }, async () => {
  const engine = await startEngine({ backend: 'wasm' });
  const backbone = await loadBackbone(MODELS('mobilenet_v1_0.25_224'), { preprocess: 'tf', engine });
  const files = ['apple_red__opencv.jpg', 'truncated__skimage.jpg', 'cat_tabby_chelsea__skimage.png'];
  const entries = Array.from({ length: 20 }, (_, i) => ({ path: IMAGES(files[i % 3]!) }));
  const settings = { size: backbone.info.inputSize, preprocess: backbone.info.preprocess };
  // The very functions classify and extract run per batch.
  const compute = async (batch: tf.Tensor4D) => {
    const [predictions, features] = await Promise.all([classifyBatch(backbone, batch, 5), extractBatch(backbone, batch, 'conv_pw_13_relu', 'avg', true)]);
    assert.equal(features[0]!.vector.length, 256);
    return predictions.map((p) => p[0]!.index);
  };
  const order: string[] = [];
  const run = () => runBatches(entries, settings, 3, async (b) => {
    const before = tf.memory().numTensors;
    const out = await compute(b);
    assert.equal(tf.memory().numTensors, before, 'compute frees what it makes');
    return out;
  }, (item, result) => void order.push(`${path.basename(item.path)}:${result === undefined ? 'error' : result}`));
  await run(); // first run builds kernels and caches
  const tensors = tf.memory().numTensors;
  const bytes = tf.memory().numBytes;
  order.length = 0;
  const stats = await run();
  assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
  assert.equal(tf.memory().numBytes, bytes);
  assert.equal(stats.images, 20);
  assert.equal(stats.failed, 7);
  assert.deepEqual(order.slice(0, 3), ['apple_red__opencv.jpg:948', 'truncated__skimage.jpg:error', 'cat_tabby_chelsea__skimage.png:285']);
  assert.equal(order.length, 20);
  backbone.dispose();
});
