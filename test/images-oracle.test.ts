// Oracle: @tensorflow-models/mobilenet, Google's own wrapper around the same TF-Hub graph
// model, classifying the pixels our pipeline produces, must agree with running that graph
// ourselves on our preprocess('unit') input.
//
// How classify()/infer() prepares an image (node_modules/@tensorflow-models/mobilenet/dist/index.js):
//   normalized = img * (inputMax - inputMin) / 255 + inputMin
//   resized only if the image is not 224x224 (then resizeBilinear with alignCorners=true)
//   logits1001 = model.predict(normalized); logits = logits1001[:, 1:]   (drops "background")
//   classify(): softmax(logits), top-k.
// inputRange: load() takes it from MODEL_INFO for the built-in URLs ([0, 1] for every
// TF-Hub MobileNet, this one included: 'mobilenet_v1_025_224/classification/1'), but a
// custom modelUrl defaults to [-1, 1]. This graph rescales [0, 1] to [-1, 1] itself
// (module_apply_default/hub_input/Mul, Sub), so we pass inputRange [0, 1] as MODEL_INFO
// does, and check that the [-1, 1] default really gives different answers.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as mobilenet from '@tensorflow-models/mobilenet';
import { tf } from '../src/tf.js';
import { modelHandler } from '../src/weights/tfjs-artifacts.js';
import { loadImageForModel } from '../src/images/index.js';
import { IMAGES, MODELS, dataPath, skipWithoutData } from './helpers/data.js';

const skip = skipWithoutData();
const SIZE: [number, number] = [224, 224];
const PHOTOS = ['cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png', 'cameraman_tripod_gray__skimage.png', 'apple_red__opencv.jpg'];
// Keras class order (imagenet_class_index.json): 281 tabby, 282 tiger_cat, 285 Egyptian_cat, 287 lynx.
const CAT_CLASSES = new Set([281, 282, 285, 287]);

function topK(probs: ArrayLike<number>, k: number): number[] {
  return Array.from(probs, (p, i) => [p, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map(([, i]) => i);
}

describe('pipeline vs @tensorflow-models/mobilenet (mobilenet_v1_0.25_224 graph)', { skip }, () => {
  let net: mobilenet.MobileNet;
  let netDefaultRange: mobilenet.MobileNet;
  let graph: tf.GraphModel;
  const dir = MODELS('mobilenet_v1_0.25_224_graph');

  before(async () => {
    await tf.setBackend('cpu');
    net = await mobilenet.load({ version: 1, alpha: 0.25, modelUrl: modelHandler(dir), inputRange: [0, 1] });
    netDefaultRange = await mobilenet.load({ version: 1, alpha: 0.25, modelUrl: modelHandler(dir) });
    graph = await tf.loadGraphModel(modelHandler(dir));
  });

  /** Our side: preprocess 'unit' -> graph -> drop logit 0 -> softmax. */
  async function ourProbs(file: string): Promise<Float32Array> {
    const { input } = await loadImageForModel(IMAGES(file), { size: SIZE, preprocess: 'unit', resize: 'squash', interpolation: 'bilinear' });
    const probs = tf.tidy(() => {
      const logits = graph.predict(tf.tensor4d(input, [1, ...SIZE, 3])) as tf.Tensor2D;
      assert.deepEqual(logits.shape, [1, 1001]);
      return tf.softmax(logits.slice([0, 1], [1, 1000]));
    });
    const out = (await probs.data()) as Float32Array;
    probs.dispose();
    return out;
  }

  /** Their side: the same 224x224 RGB pixels, 0..255, through mobilenet.infer() + softmax. */
  async function theirProbs(file: string, model: mobilenet.MobileNet): Promise<Float32Array> {
    const { input } = await loadImageForModel(IMAGES(file), { size: SIZE, preprocess: 'raw', resize: 'squash', interpolation: 'bilinear' });
    const img = tf.tensor3d(input, [...SIZE, 3]);
    const probs = tf.tidy(() => tf.softmax(model.infer(img) as tf.Tensor2D));
    const out = (await probs.data()) as Float32Array;
    tf.dispose([img, probs]);
    return out;
  }

  for (const file of PHOTOS) {
    test(`${file}: same class probabilities within 1e-3`, async () => {
      const ours = await ourProbs(file);
      const theirs = await theirProbs(file, net);
      assert.equal(ours.length, 1000);
      assert.equal(theirs.length, 1000);
      let maxDiff = 0;
      for (let i = 0; i < 1000; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - theirs[i]!));
      assert.ok(maxDiff < 1e-3, `max |p_ours - p_mobilenet| = ${maxDiff}`);
      assert.deepEqual(topK(ours, 5), topK(theirs, 5));
    });
  }

  test('the cat is a cat (top-3 in tabby / tiger_cat / Egyptian_cat / lynx), and classify() names agree', async () => {
    const ours = await ourProbs('cat_tabby_chelsea__skimage.png');
    const top3 = topK(ours, 3);
    const kerasLabels = JSON.parse(readFileSync(dataPath('labels', 'imagenet_class_index.json'), 'utf8')) as Record<string, [string, string]>;
    assert.ok(
      top3.every((i) => CAT_CLASSES.has(i)),
      `top-3 ${top3.map((i) => `${i} ${kerasLabels[String(i)]![1]}`).join(', ')}`,
    );
    const { input } = await loadImageForModel(IMAGES('cat_tabby_chelsea__skimage.png'), { size: SIZE, preprocess: 'raw' });
    const img = tf.tensor3d(input, [...SIZE, 3]);
    const classified = await net.classify(img, 3);
    img.dispose();
    const tfjsLabels = JSON.parse(readFileSync(dataPath('labels', 'imagenet_classes_tfjs_mobilenet.json'), 'utf8')) as string[];
    assert.deepEqual(
      classified.map((c) => c.className),
      top3.map((i) => tfjsLabels[i]),
    );
    classified.forEach((c, k) => assert.ok(Math.abs(c.probability - ours[top3[k]!]!) < 1e-3));
  });

  test('negative control: feeding [-1, 1] (the custom-URL default) changes the answer', async () => {
    const ours = await ourProbs('apple_red__opencv.jpg');
    const wrong = await theirProbs('apple_red__opencv.jpg', netDefaultRange);
    let maxDiff = 0;
    for (let i = 0; i < 1000; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - wrong[i]!));
    assert.ok(maxDiff > 0.05, `expected a visible difference, got ${maxDiff}`);
  });
});
