// The server's inference thread (src/serve/inference.ts): batches run there, and each batch's
// memory comes back with its answers for the next batch to be filled in, so a busy server
// does not zero, fault in and collect a multi-MB array per batch. Reused memory must never
// change an answer: a smaller batch in a bigger batch's buffer sees only its own rows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSpec } from '../src/spec/spec.js';
import { startInferenceThread } from '../src/serve/inference.js';
import { loadImageForModel } from '../src/images/index.js';
import type { Prediction } from '../src/output/records.js';
import { IMAGES, MODELS, skipWithoutData } from './helpers/data.js';

const skip = skipWithoutData();

test('a batch buffer comes back with its answers and serves the next batch; answers do not depend on which buffer held them', { skip, timeout: 180_000 }, async () => {
  const spec = await resolveSpec({ model: MODELS('mobilenet_v1_0.25_224'), preprocess: 'tf', backend: 'onnx' }, { defaultLayer: true, batch: { flag: '--max-batch', sizes: [4] } });
  const inference = await startInferenceThread(spec);
  try {
    const [h, w] = inference.info.inputSize;
    const size = h * w * 3;
    const photos = await Promise.all(['cat_tabby_chelsea__skimage.png', 'mandrill_baboon__opencv.jpg', 'apple_red__opencv.jpg', 'rocket_falcon9_launchpad__skimage.jpg'].map((f) => loadImageForModel(IMAGES(f), { size: [h, w], preprocess: 'tf' })));
    const ask = { kind: 'classify', k: 5 } as const;
    const batch = (items: typeof photos, data: Float32Array) => {
      items.forEach((p, i) => data.set(p.input, i * size));
      return inference.run(items.map(() => ask), data);
    };
    // Nothing has come back yet: fresh memory, exactly the batch's size.
    const first = inference.batchBuffer(4 * size);
    assert.equal(first.buffer.byteLength, 4 * size * 4);
    const four = (await batch(photos, first)) as Prediction[][];
    assert.equal(first.length, 0, 'the buffer went to the inference thread (transferred, not copied)');
    // The 4-image buffer came back: a 1-image batch is a view on it, and its answer is the
    // same image's answer in the 4-image batch (rows after it hold the previous batch's photos).
    const reused = inference.batchBuffer(size);
    assert.equal(reused.length, size);
    assert.equal(reused.buffer.byteLength, 4 * size * 4, 'the returned buffer is reused');
    const one = (await batch([photos[2]!], reused)) as Prediction[][];
    assert.equal(one.length, 1);
    assert.deepEqual(one[0], four[2]);
    // And a fresh buffer for the same image gives the same answer.
    const fresh = (await batch([photos[2]!], new Float32Array(size))) as Prediction[][];
    assert.deepEqual(fresh[0], one[0]);
    assert.notDeepEqual(four[0], four[2], 'different photos, different answers');
  } finally {
    await inference.dispose();
  }
});
