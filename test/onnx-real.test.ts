// Real TF.js models (shared data) exported to ONNX: on the cat photo, ONNX Runtime gives
// the same top-5 classes as tfjs and the same probabilities within 1e-4.
// mobilenet_v1_0.25_224: Google's Keras 2.1.4 model, 1000 classes, 'tf' preprocessing.
// nsfwjs_mobilenet_v2 / nsfwjs_inception_v3: Keras 2.2.4, 5 classes, 'unit' preprocessing
// (uint8-quantized weights in the MobileNetV2 one: dequantized on load, exported as float).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { startEngine } from '../src/engines/select.js';
import { modelHandler } from '../src/weights/tfjs-artifacts.js';
import { loadImageForModel } from '../src/images/index.js';
import type { PreprocessMode } from '../src/images/preprocess.js';
import { OnnxSession } from '../src/onnx/session.js';
import { IMAGES, MODELS, skipWithoutData } from './helpers/data.js';
import { maxRelDiff } from './helpers/compare.js';

const skip = skipWithoutData();
const CAT = 'cat_tabby_chelsea__skimage.png';

function topK(probs: ArrayLike<number>, k: number): number[] {
  return Array.from(probs, (p, i) => [p, i] as const)
    .sort((a, b) => b[0] - a[0])
    .slice(0, k)
    .map(([, i]) => i);
}


/** `features`: the backbone layer extract reads, checked too (the 5-class heads saturate). */
const CASES: Array<{ model: string; size: [number, number]; preprocess: PreprocessMode; features?: string }> = [
  { model: 'mobilenet_v1_0.25_224', size: [224, 224], preprocess: 'tf', features: 'conv_pw_13_relu' },
  { model: 'nsfwjs_mobilenet_v2', size: [224, 224], preprocess: 'unit', features: 'out_relu' },
  { model: 'nsfwjs_inception_v3', size: [299, 299], preprocess: 'unit', features: 'mixed10' },
];

describe('real TF.js models on ONNX Runtime', { skip }, () => {
  before(async () => {
    await startEngine({ backend: 'wasm' });
  });

  for (const c of CASES) {
    test(`${c.model}: same top-5 and probabilities on the cat photo`, async (t) => {
      const model = await tf.loadLayersModel(modelHandler(MODELS(c.model)));
      const extra = c.features ? [c.features] : [];
      const session = await OnnxSession.create(model, { threads: 2, outputs: extra });
      try {
        const image = await loadImageForModel(IMAGES(CAT), { size: c.size, preprocess: c.preprocess });
        const shape: [number, number, number, number] = [1, c.size[0], c.size[1], 3];
        const reference = tf.tidy(() => (model.predict(tf.tensor4d(image.input, shape)) as tf.Tensor).dataSync());
        const got = (await session.run(image.input, shape))[session.outputNames[0]!]!;
        assert.equal(got.data.length, reference.length);

        const k = Math.min(5, reference.length);
        const refTop = topK(reference, k);
        assert.deepEqual(topK(got.data, k), refTop);
        let maxDiff = 0;
        for (let i = 0; i < reference.length; i++) maxDiff = Math.max(maxDiff, Math.abs(reference[i]! - got.data[i]!));
        t.diagnostic(`${c.model}: top-${k} ${refTop.join(', ')} (p ${reference[refTop[0]!]!.toFixed(4)}); max |diff| ${maxDiff.toExponential(2)}`);
        assert.ok(maxDiff < 1e-4, `max |diff| ${maxDiff} >= 1e-4`);

        for (const layer of extra) {
          const probe = tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tf.SymbolicTensor });
          const ref = tf.tidy(() => (probe.predict(tf.tensor4d(image.input, shape)) as tf.Tensor).dataSync());
          const rel = maxRelDiff(ref, (await session.run(image.input, shape, [layer]))[layer]!.data);
          t.diagnostic(`${c.model} ${layer}: max rel diff ${rel.toExponential(2)}`);
          assert.ok(rel < 1e-4, `${layer}: max rel diff ${rel} >= 1e-4`);
        }
      } finally {
        await session.dispose();
        model.dispose();
      }
    });
  }
});
