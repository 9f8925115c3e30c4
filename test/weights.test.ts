// Keras .h5 read/write, TF.js weights reading, and assigning weights to a model.
import { prng as rng } from '../src/zoo/random.js';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import h5wasm from 'h5wasm/node';
import { modelHandler } from '../src/weights/tfjs-artifacts.js';
import { tf } from '../src/tf.js';
import { assignWeights, describeReport } from '../src/weights/assign.js';
import { WeightsError } from '../src/weights/errors.js';
import { halfToFloat, readKerasH5 } from '../src/weights/h5.js';
import { writeKerasH5 } from './helpers/keras-h5.js';
import { readTfjsLayersWeights } from '../src/weights/tfjs.js';
import type { LayerWeights } from '../src/weights/types.js';
import { MODELS, skipWithoutData } from './helpers/data.js';

let dir: string;
before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  await h5wasm.ready;
  dir = await mkdtemp(path.join(os.tmpdir(), 'backbones-weights-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});


interface Names {
  conv: string;
  bn: string;
  flat: string;
  fc: string;
}
const KERAS_NAMES: Names = { conv: 'block1_conv1', bn: 'bn1', flat: 'flatten', fc: 'fc1' };

/** conv2d (with bias) -> batchNormalization -> flatten -> dense, every layer named. */
function buildModel(names: Names = KERAS_NAMES, { filters = 4, bnScale = true } = {}): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ name: names.conv, inputShape: [6, 6, 3], filters, kernelSize: 3, padding: 'same', useBias: true }),
      tf.layers.batchNormalization({ name: names.bn, scale: bnScale }),
      tf.layers.flatten({ name: names.flat }),
      tf.layers.dense({ name: names.fc, units: 5 }),
    ],
  });
}

/**
 * The layers a Keras model.save_weights would write for `model`, with seeded random
 * values: every layer (weightless too), weight names '<layer>/<weight>:0'. `rename`
 * maps model layer names to the names in the file.
 */
function kerasLayers(model: tf.LayersModel, seed: number, rename: Record<string, string> = {}): LayerWeights[] {
  const rand = rng(seed);
  return model.layers.map((layer) => {
    const name = rename[layer.name] ?? layer.name;
    return {
      name,
      weights: layer.weights.map((w) => {
        const short = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
        const shape = [...(w.shape as number[])];
        const size = shape.reduce((a, b) => a * b, 1);
        const data = Float32Array.from({ length: size }, () => (short === 'moving_variance' ? 0.5 + rand() : rand() * 2 - 1));
        return { name: `${name}/${short}:0`, shape, data };
      }),
    };
  });
}

function disposeModels(...models: tf.LayersModel[]): void {
  for (const m of models) m.dispose();
}

const INPUT = () => tf.tidy(() => tf.tensor4d(Float32Array.from({ length: 6 * 6 * 3 }, (_, i) => Math.sin(i)), [1, 6, 6, 3]));

function predict(model: tf.LayersModel): number[] {
  return tf.tidy(() => {
    const x = INPUT();
    return Array.from((model.predict(x) as tf.Tensor).dataSync());
  });
}

/** Outputs of a model whose weights are set directly from `layers`. */
function referenceOutputs(layers: LayerWeights[]): number[] {
  const model = referenceModel(layers);
  try {
    return predict(model);
  } finally {
    model.dispose();
  }
}

/** Model whose weights are set directly from `layers` (the reference for outputs). */
function referenceModel(layers: LayerWeights[], names: Names = KERAS_NAMES): tf.Sequential {
  const model = buildModel(names);
  model.layers.forEach((layer, i) => {
    if (layer.weights.length === 0) return;
    const ws = layers[i].weights.map((w) => tf.tensor(w.data, w.shape));
    layer.setWeights(ws);
    tf.dispose(ws);
  });
  return model;
}

describe('Keras .h5 files', () => {
  test('weights-only round trip: Keras groups and attributes, read back, assign by name, same outputs', async () => {
    const template = buildModel();
    const layers = kerasLayers(template, 1);
    const file = path.join(dir, 'weights_only.h5');
    await writeKerasH5(file, layers, { layout: 'weights-only' });

    // The file as Keras' load_weights sees it.
    const f = new h5wasm.File(file, 'r');
    try {
      assert.deepEqual(f.attrs.layer_names.value, ['block1_conv1', 'bn1', 'flatten', 'fc1']);
      assert.match(String(f.attrs.keras_version.value), /^2\./);
      assert.equal(f.attrs.backend.value, 'tensorflow');
      assert.equal(f.attrs.layer_names.metadata.vlen, false, 'layer_names are fixed-length strings, as numpy writes them');
      const conv = f.get('block1_conv1') as InstanceType<typeof h5wasm.Group>;
      assert.deepEqual(conv.attrs.weight_names.value, ['block1_conv1/kernel:0', 'block1_conv1/bias:0']);
      const kernel = f.get('block1_conv1/block1_conv1/kernel:0') as InstanceType<typeof h5wasm.Dataset>;
      assert.deepEqual(kernel.shape, [3, 3, 3, 4]);
      assert.equal(kernel.dtype, '<f');
      const bn = f.get('bn1') as InstanceType<typeof h5wasm.Group>;
      assert.deepEqual(bn.attrs.weight_names.value, ['bn1/gamma:0', 'bn1/beta:0', 'bn1/moving_mean:0', 'bn1/moving_variance:0']);
      const flat = f.get('flatten') as InstanceType<typeof h5wasm.Group>;
      assert.equal((flat.attrs.weight_names.value as Float64Array).length, 0, 'weightless layer: empty weight_names');
      assert.ok(!f.keys().includes('model_weights'));
    } finally {
      f.close();
    }

    const read = await readKerasH5(file);
    assert.equal(read.layout, 'weights-only');
    assert.equal(read.backend, 'tensorflow');
    assert.match(read.kerasVersion ?? '', /^2\./);
    assert.deepEqual(read.layers.map((l) => l.name), ['block1_conv1', 'bn1', 'flatten', 'fc1']);
    assert.deepEqual(read.layers[0].weights.map((w) => w.name), ['block1_conv1/kernel:0', 'block1_conv1/bias:0']);
    for (let i = 0; i < layers.length; i++) {
      assert.equal(read.layers[i].weights.length, layers[i].weights.length);
      read.layers[i].weights.forEach((w, j) => {
        assert.deepEqual(w.shape, layers[i].weights[j].shape);
        assert.deepEqual(w.data, layers[i].weights[j].data);
      });
    }

    const reference = referenceModel(layers);
    const fresh = buildModel();
    const expected = predict(reference);
    assert.notDeepEqual(predict(fresh), expected, 'a freshly initialised model must differ');
    const before = tf.memory().numTensors;
    const report = assignWeights(fresh, read);
    assert.equal(tf.memory().numTensors, before, 'assignWeights leaks no tensors');
    assert.equal(report.matchedBy, 'name');
    assert.equal(report.assigned, 3);
    assert.deepEqual([report.missing, report.unexpected, report.mismatched], [[], [], []]);
    assert.equal(report.weightsSet, 2 + 4 + 2);
    assert.deepEqual(predict(fresh), expected);
    assert.equal(describeReport(report), 'Loaded 3 layers by name (0 missing, 0 unexpected)');
    disposeModels(template, reference, fresh);
  });

  test('full-model layout (model_weights group + model_config) loads too', async () => {
    const template = buildModel();
    const layers = kerasLayers(template, 2);
    const file = path.join(dir, 'full_model.h5');
    const modelConfig = { class_name: 'Sequential', config: { name: 'sequential', layers: [] } };
    await writeKerasH5(file, layers, { layout: 'full-model', modelConfig });

    const f = new h5wasm.File(file, 'r');
    try {
      assert.deepEqual(JSON.parse(String(f.attrs.model_config.value)), modelConfig);
      assert.ok(!Object.keys(f.attrs).includes('layer_names'), 'layer_names live under model_weights');
      const mw = f.get('model_weights') as InstanceType<typeof h5wasm.Group>;
      assert.deepEqual(mw.attrs.layer_names.value, ['block1_conv1', 'bn1', 'flatten', 'fc1']);
      assert.ok(f.get('model_weights/fc1/fc1/kernel:0') instanceof h5wasm.Dataset);
    } finally {
      f.close();
    }

    const read = await readKerasH5(file);
    assert.equal(read.layout, 'full-model');
    assert.deepEqual(read.modelConfig, modelConfig);
    const model = buildModel();
    const report = assignWeights(model, read);
    assert.equal(report.matchedBy, 'name');
    const reference = referenceModel(layers);
    assert.deepEqual(predict(model), predict(reference));
    disposeModels(template, model, reference);
  });

  test('float64 datasets become float32; float16 bits decode', async () => {
    const layers: LayerWeights[] = [{ name: 'd', weights: [{ name: 'd/kernel:0', shape: [2, 2], data: new Float32Array([0.1, -2, 3.5, 1e-3]) }] }];
    const file = path.join(dir, 'f64.h5');
    await writeKerasH5(file, layers, { dtype: 'float64' });
    const f = new h5wasm.File(file, 'r');
    assert.equal((f.get('d/d/kernel:0') as InstanceType<typeof h5wasm.Dataset>).dtype, '<d');
    f.close();
    const read = await readKerasH5(file);
    assert.ok(read.layers[0].weights[0].data instanceof Float32Array);
    assert.deepEqual(read.layers[0].weights[0].data, new Float32Array([0.1, -2, 3.5, 1e-3]));
    // h5wasm cannot write float16, so the half decoder is checked on known bit patterns.
    assert.deepEqual([0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff, 0x7c00, 0x0000].map(halfToFloat), [
      1, -2, 0.333251953125, 2 ** -24, 65504, Infinity, 0,
    ]);
  });

  test('long layer_names are split into layer_names0, layer_names1, ... like Keras, and read back whole', async () => {
    const many: LayerWeights[] = Array.from({ length: 900 }, (_, i) => ({ name: `activation_${i}_${'x'.repeat(70)}`, weights: [] }));
    const file = path.join(dir, 'chunked.h5');
    await writeKerasH5(file, many);
    const f = new h5wasm.File(file, 'r');
    const attrs = Object.keys(f.attrs).sort();
    f.close();
    assert.deepEqual(attrs, ['backend', 'keras_version', 'layer_names0', 'layer_names1']);
    const read = await readKerasH5(file);
    assert.deepEqual(read.layers.map((l) => l.name), many.map((l) => l.name));
  });

  test('a file that is not Keras HDF5 is a clear WeightsError', async () => {
    await assert.rejects(readKerasH5(path.join(dir, 'missing.h5')), (e: Error) => e instanceof WeightsError && /Cannot open weights file/.test(e.message));
    const { writeFile } = await import('node:fs/promises');
    const notH5 = path.join(dir, 'not.h5');
    await writeFile(notH5, 'this is not hdf5'.repeat(100));
    await assert.rejects(readKerasH5(notH5), (e: Error) => e instanceof WeightsError && /not an HDF5 file/.test(e.message));
    const plain = new h5wasm.File(path.join(dir, 'plain.h5'), 'w');
    plain.create_group('layers');
    plain.close();
    await assert.rejects(readKerasH5(path.join(dir, 'plain.h5')), (e: Error) => e instanceof WeightsError && /Keras 3/.test(e.message));
  });
});

describe('assignWeights', () => {
  // Names a Keras 2 session generates for the same architecture (they depend on how
  // many layers were built before, so they never match our explicit names).
  const AUTO = { block1_conv1: 'conv2d_7', bn1: 'batch_normalization_3', flatten: 'flatten_4', fc1: 'dense_2' };

  test('falls back to layer order when names differ (Keras auto names)', async () => {
    const template = buildModel();
    const layers = kerasLayers(template, 3, AUTO);
    const file = path.join(dir, 'auto_names.h5');
    await writeKerasH5(file, layers, { kerasVersion: '2.2.4' });
    const read = await readKerasH5(file);
    assert.deepEqual(read.layers.map((l) => l.name), ['conv2d_7', 'batch_normalization_3', 'flatten_4', 'dense_2']);

    const model = buildModel();
    const report = assignWeights(model, read);
    assert.equal(report.matchedBy, 'order');
    assert.equal(report.assigned, 3);
    assert.deepEqual([report.missing, report.unexpected, report.mismatched], [[], [], []]);
    assert.deepEqual(predict(model), referenceOutputs(layers));
    disposeModels(template, model);
  });

  test('a shape mismatch is a WeightsError naming the layer and both shapes, and assigns nothing', async () => {
    const other = buildModel(KERAS_NAMES, { filters: 8 });
    const file = { layers: kerasLayers(other, 4, AUTO) };
    const model = buildModel();
    const before = predict(model);
    assert.throws(
      () => assignWeights(model, file),
      (e: Error) => {
        assert.ok(e instanceof WeightsError);
        assert.equal(e.name, 'WeightsError');
        assert.match(e.message, /matched by order/);
        assert.match(e.message, /block1_conv1 \(file: conv2d_7\) kernel: expected \[3,3,3,4\], got \[3,3,3,8\]/);
        assert.match(e.message, /\d+ of 8 weights are not set/);
        return true;
      },
    );
    assert.deepEqual(predict(model), before, 'strict failure must not change any weight');

    const report = assignWeights(model, file, { strict: false });
    const layersHit = new Set(report.mismatched.map((m) => m.layer));
    assert.ok(layersHit.has('block1_conv1'));
    const kernel = report.mismatched.find((m) => m.layer === 'block1_conv1' && m.weight === 'kernel');
    assert.deepEqual(kernel && [kernel.expected, kernel.got], [[3, 3, 3, 4], [3, 3, 3, 8]]);
    disposeModels(other, model);
  });

  test('missing and unexpected layers are reported (non-strict) and refused (strict)', () => {
    const template = buildModel();
    const full = kerasLayers(template, 5, AUTO);

    // By order, the file lacks the dense layer.
    const noTop = { layers: full.filter((l) => l.name !== 'dense_2') };
    const model = buildModel();
    assert.throws(() => assignWeights(model, noTop), /Missing from the file \(1\): fc1\./);
    const r1 = assignWeights(model, noTop, { strict: false });
    assert.equal(r1.matchedBy, 'order');
    assert.deepEqual(r1.missing, ['fc1']);
    assert.equal(r1.assigned, 2);
    assert.equal(describeReport(r1), 'Loaded 2 layers by order (1 missing: fc1, 0 unexpected)');

    // By name, the file has an extra classifier layer.
    const named = kerasLayers(template, 6);
    const extra = { layers: [...named, { name: 'predictions', weights: [{ name: 'predictions/bias:0', shape: [3], data: new Float32Array(3) }] }] };
    assert.throws(() => assignWeights(model, extra), /Not in the model \(1\): predictions\./);
    const r2 = assignWeights(model, extra, { strict: false });
    assert.equal(r2.matchedBy, 'name');
    assert.deepEqual([r2.missing, r2.unexpected], [[], ['predictions']]);
    assert.equal(describeReport(r2), 'Loaded 3 layers by name (0 missing, 1 unexpected: predictions)');
    const r3 = assignWeights(model, extra, { allowUnexpected: true });
    assert.equal(r3.assigned, 3);
    disposeModels(template, model);
  });

  test('within a layer, weights pair by name when the file stores them in another order', () => {
    const template = buildModel();
    const layers = kerasLayers(template, 7);
    const shuffled = layers.map((l) => (l.name === 'bn1' ? { ...l, weights: [...l.weights].sort((a, b) => a.name.localeCompare(b.name)) } : l));
    assert.deepEqual(shuffled[1].weights.map((w) => w.name), ['bn1/beta:0', 'bn1/gamma:0', 'bn1/moving_mean:0', 'bn1/moving_variance:0']);
    const model = buildModel();
    assignWeights(model, { layers: shuffled });
    assert.deepEqual(predict(model), referenceOutputs(layers));
    disposeModels(template, model);
  });

  test('BatchNormalization without scale (no gamma) vs a file with gamma: a weight-count mismatch', () => {
    const withGamma = buildModel();
    const file = { layers: kerasLayers(withGamma, 8) };
    const noScale = buildModel(KERAS_NAMES, { bnScale: false });
    assert.throws(() => assignWeights(noScale, file), /bn1: expected 3 weights \(beta, moving_mean, moving_variance\), got 4 \(gamma, beta, moving_mean, moving_variance\)/);
    disposeModels(withGamma, noScale);
  });
});

describe('TF.js layers weights', () => {
  for (const name of ['mobilenet_v1_0.25_224', 'nsfwjs_mobilenet_v2']) {
    test(`${name}: same numbers as tf.loadLayersModel, in topology order`, { skip: skipWithoutData() }, async () => {
      const dirPath = MODELS(name);
      const beforeRead = tf.memory().numTensors;
      const file = await readTfjsLayersWeights(dirPath);
      assert.equal(tf.memory().numTensors, beforeRead, 'reading leaks no tensors');
      const model = await tf.loadLayersModel(modelHandler(dirPath));
      try {
        const weighted = model.layers.filter((l) => l.weights.length > 0);
        assert.deepEqual(file.layers.map((l) => l.name), weighted.map((l) => l.name), 'layers follow the topology');
        for (const layer of weighted) {
          const fromFile = file.layers.find((l) => l.name === layer.name)!;
          const expected = layer.getWeights();
          assert.equal(fromFile.weights.length, expected.length, layer.name);
          expected.forEach((t, i) => {
            assert.deepEqual(fromFile.weights[i].shape, t.shape, `${layer.name} #${i}`);
            assert.deepEqual(fromFile.weights[i].data, t.dataSync(), `${layer.name} #${i}`);
          });
        }
        if (name === 'nsfwjs_mobilenet_v2') {
          const json = (await import('node:fs')).readFileSync(path.join(dirPath, 'model.json'), 'utf8');
          assert.match(json, /"quantization"/, 'this model is quantized (uint8)');
        }
        // Every layer found by name, nothing left over.
        const report = assignWeights(model, file);
        assert.equal(report.matchedBy, 'name');
        assert.equal(report.assigned, weighted.length);
        assert.deepEqual([report.missing, report.unexpected], [[], []]);
      } finally {
        model.dispose();
      }
    });
  }

  test('a model rebuilt from the topology with random weights reproduces the outputs once assigned', { skip: skipWithoutData() }, async () => {
    const dirPath = MODELS('mobilenet_v1_0.25_224');
    const original = await tf.loadLayersModel(modelHandler(dirPath));
    const json = JSON.parse((await import('node:fs')).readFileSync(path.join(dirPath, 'model.json'), 'utf8'));
    const rebuilt = await tf.models.modelFromJSON(json.modelTopology);
    const x = tf.randomUniform([1, 224, 224, 3], -1, 1, 'float32', 42);
    const run = (m: tf.LayersModel) => tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync().slice());
    try {
      const want = run(original);
      assert.notDeepEqual(run(rebuilt), want);
      const report = assignWeights(rebuilt, await readTfjsLayersWeights(dirPath));
      assert.equal(report.matchedBy, 'name');
      assert.deepEqual(run(rebuilt), want);
    } finally {
      tf.dispose([x]);
      original.dispose();
      rebuilt.dispose();
    }
  });
});
