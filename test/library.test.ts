// The small library API: load → classify / extract, on a real model and photo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load } from '../src/index.js';
import { IMAGES, MODELS, skipWithoutData } from './helpers/data.js';
import { tf } from '../src/tf.js';

test('load(model.json).classify and .extract', { skip: skipWithoutData() }, async () => {
  const model = await load(MODELS('mobilenet_v1_0.25_224'), { backend: 'wasm', preprocess: 'tf' });
  assert.equal(model.backend.backend, 'wasm');
  const before = tf.memory().numTensors;
  const top = await model.classify(IMAGES('apple_red__opencv.jpg'), 3);
  assert.equal(top.length, 3);
  assert.equal(top[0]!.index, 948); // Granny_Smith
  const v = await model.extract(IMAGES('apple_red__opencv.jpg'), { layer: 'conv_pw_13_relu', pool: 'avg', l2: true });
  assert.equal(v.length, 256);
  assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
  assert.equal(tf.memory().numTensors, before, 'classify and extract free their tensors');
  model.dispose();
});
