// The ONNX exporter and session (OnnxSession) on small hand-built models: TF 'same' padding at odd
// sizes, every converter against tfjs, unsupported layers, the .onnx cache, and the
// session's checks. Zoo parity: onnx-zoo.test.ts; real models: onnx-real.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tf } from '../src/tf.js';
import { startEngine } from '../src/engines/select.js';
import { buildArchitecture } from '../src/zoo/architectures.js';
import { randomizeWeights } from '../src/zoo/random.js';
import { OnnxSession, OnnxExportError, exportToOnnx, onnxAvailable, onnxCacheKey, weightsHash } from '../src/onnx/index.js';
import { decodeModel } from '../src/onnx/proto.js';
import { samePadding } from '../src/onnx/layout.js';
import { maxRelDiff } from './helpers/compare.js';

type Shape4 = [number, number, number, number];
const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;


function uniform(n: number, lo: number, hi: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (s / 2 ** 32) * (hi - lo);
  }
  return out;
}

/** Random weights for every layer (biases and BN statistics included, unlike randomizeWeights). */
function randomize(model: tf.LayersModel, seed: number): void {
  let k = seed;
  for (const layer of model.layers) {
    const values = layer.weights.map((w) => {
      const n = w.shape.reduce((a, b) => a! * b!, 1)!;
      // Variances must stay positive: 0.5..1.5 for moving_variance, -1..1 elsewhere.
      const isVar = /variance/.test(w.originalName ?? w.name);
      return tf.tensor(uniform(n, isVar ? 0.5 : -1, isVar ? 1.5 : 1, k++), w.shape as number[]);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** Every graph output of the exported model against tfjs predict, one rel diff per output. */
async function compare(model: tf.LayersModel, input: Float32Array, shape: Shape4): Promise<Record<string, number>> {
  const session = await OnnxSession.create(model, { threads: 2 });
  try {
    const got = await session.run(input, shape);
    const refs = tf.tidy(() => {
      const out = model.predict(tf.tensor4d(input, shape));
      return Array.isArray(out) ? out : [out];
    });
    const diffs: Record<string, number> = {};
    for (const [i, t] of model.outputs.entries()) {
      const name = t.sourceLayer.name;
      assert.deepEqual(got[name]!.dims, refs[i]!.shape, `${name} shape`);
      diffs[name] = maxRelDiff(refs[i]!.dataSync(), got[name]!.data);
    }
    tf.dispose(refs);
    return diffs;
  } finally {
    await session.dispose();
  }
}

before(async () => {
  await startEngine({ backend: 'wasm' });
});
after(() => tf.disposeVariables());

describe("TF 'same' padding", () => {
  test('samePadding puts the odd pixel at the end', () => {
    assert.deepEqual(samePadding(7, 3, 2), [1, 1]);
    assert.deepEqual(samePadding(7, 2, 2), [0, 1]);
    assert.deepEqual(samePadding(8, 3, 2), [0, 1]);
    assert.deepEqual(samePadding(224, 7, 2), [2, 3]);
    assert.deepEqual(samePadding(7, 3, 1, 2), [2, 2]);
    assert.deepEqual(samePadding(5, 1, 2), [0, 0]);
  });

  test('odd input (7x7), stride 2: conv, depthwise, separable, max and average pooling match tfjs', async (t) => {
    const x = tf.input({ shape: [7, 7, 3] });
    const same = { padding: 'same' as const, strides: 2 };
    const outputs = [
      apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, ...same, name: 'conv_k3s2' }), x),
      apply(tf.layers.conv2d({ filters: 4, kernelSize: 2, ...same, name: 'conv_k2s2' }), x),
      apply(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, ...same, name: 'dw_k3s2' }), x),
      apply(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, ...same, name: 'sep_k3s2' }), x),
      apply(tf.layers.maxPooling2d({ poolSize: 2, ...same, name: 'max_k2s2' }), x),
      apply(tf.layers.maxPooling2d({ poolSize: 3, ...same, name: 'max_k3s2' }), x),
      apply(tf.layers.averagePooling2d({ poolSize: 2, ...same, name: 'avg_k2s2' }), x),
      apply(tf.layers.averagePooling2d({ poolSize: 3, ...same, name: 'avg_k3s2' }), x),
      apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', dilationRate: 2, name: 'conv_k3d2' }), x),
    ];
    const model = tf.model({ inputs: x, outputs });
    randomize(model, 1);
    // All negative: a max pool that padded with zeros instead of ignoring the padding would show.
    const shape: Shape4 = [2, 7, 7, 3];
    const diffs = await compare(model, uniform(2 * 7 * 7 * 3, -2, -1, 5), shape);
    t.diagnostic(JSON.stringify(diffs));
    for (const [name, rel] of Object.entries(diffs)) assert.ok(rel < 1e-5, `${name}: ${rel}`);
    model.dispose();
  });
});

describe('converters against tfjs', () => {
  test('padding, folded and standalone batch norm, merges, activations, dense on 4-D, reshape, flatten', async (t) => {
    const x = tf.input({ shape: [9, 9, 4] });
    const padded = apply(tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }), x); // 12 x 10
    // Fused swish: the BN after it cannot fold, so it is a standalone BatchNormalization.
    const c1 = apply(tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'swish' as 'relu' }), padded); // 10 x 8
    const bn1 = apply(tf.layers.batchNormalization({ name: 'bn_standalone' }), c1);
    const c2 = apply(tf.layers.separableConv2d({ filters: 8, kernelSize: 3, padding: 'same', depthMultiplier: 2 }), bn1);
    const bn2 = apply(tf.layers.batchNormalization({ name: 'bn_folded' }), c2);
    const lrelu = apply(tf.layers.leakyReLU({ alpha: 0.2 }), bn2);
    const sum = apply(tf.layers.add({}), [bn1, lrelu]);
    const elu = apply(tf.layers.elu({}), sum);
    const pooled = apply(tf.layers.globalAveragePooling2d({}), elu);
    const gate = apply(tf.layers.dense({ units: 8, activation: 'hardSigmoid' as 'sigmoid' }), pooled);
    const gate4d = apply(tf.layers.reshape({ targetShape: [1, 1, 8] }), gate);
    const scaled = apply(tf.layers.multiply({}), [elu, gate4d]);
    const mean = apply(tf.layers.average({}), [scaled, elu]);
    const most = apply(tf.layers.maximum({}), [mean, elu]);
    const least = apply(tf.layers.minimum({}), [mean, elu]);
    const cat = apply(tf.layers.concatenate({}), [most, least]); // 16 channels
    const dw = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu6', useBias: true }), cat);
    const relu = apply(tf.layers.reLU({ maxValue: 2.5 }), dw);
    const mish = apply(tf.layers.activation({ activation: 'mish' as 'relu' }), relu);
    const selu = apply(tf.layers.activation({ activation: 'selu' }), mish);
    const pool = apply(tf.layers.maxPooling2d({ poolSize: 2 }), selu); // 5 x 4
    const dense4d = apply(tf.layers.dense({ units: 5, name: 'dense_on_4d' }), pool);
    const soft4d = apply(tf.layers.softmax({ axis: -1, name: 'softmax_4d' }), dense4d);
    const flat = apply(tf.layers.flatten({}), pool);
    const dropped = apply(tf.layers.dropout({ rate: 0.5 }), flat);
    const logits = apply(tf.layers.dense({ units: 10, activation: 'tanh', name: 'logits' }), dropped);
    const reshaped = apply(tf.layers.reshape({ targetShape: [5, 64], name: 'reshape_3d' }), pool);
    const gmp = apply(tf.layers.globalMaxPooling2d({ name: 'gmp' }), cat);
    const model = tf.model({ inputs: x, outputs: [logits, soft4d, reshaped, gmp, bn1] });
    randomize(model, 2);

    const nodes = decodeModel(exportToOnnx(model).bytes).graph.node.map((n) => n.op_type);
    assert.equal(nodes.filter((op) => op === 'BatchNormalization').length, 1, 'bn_folded is folded, bn_standalone is not');

    const shape: Shape4 = [2, 9, 9, 4];
    const diffs = await compare(model, uniform(2 * 9 * 9 * 4, -1, 1, 9), shape);
    t.diagnostic(JSON.stringify(diffs));
    for (const [name, rel] of Object.entries(diffs)) assert.ok(rel < 1e-4, `${name}: ${rel}`);
    model.dispose();
  });

  test('a Sequential model exports', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4, activation: 'softmax' }),
      ],
    });
    randomize(model, 3);
    const diffs = await compare(model, uniform(3 * 6 * 6 * 2, -1, 1, 4), [3, 6, 6, 2]);
    for (const rel of Object.values(diffs)) assert.ok(rel < 1e-5);
    model.dispose();
  });
});

describe('unsupported layers', () => {
  test('an LSTM gives OnnxExportError naming the layer and its class', () => {
    const x = tf.input({ shape: [5, 3] });
    const y = apply(tf.layers.dense({ units: 2 }), apply(tf.layers.lstm({ units: 4, name: 'my_lstm' }), x));
    const model = tf.model({ inputs: x, outputs: y });
    assert.throws(
      () => exportToOnnx(model),
      (err: unknown) => err instanceof OnnxExportError && err.layerName === 'my_lstm' && err.layerClass === 'LSTM' && /my_lstm.*LSTM/.test(err.message),
    );
    model.dispose();
  });

  test('a custom layer gives OnnxExportError naming its class', () => {
    class TimesTwo extends tf.layers.Layer {
      static className = 'TimesTwo';
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.mul(Array.isArray(inputs) ? inputs[0]! : inputs, 2);
      }
    }
    const x = tf.input({ shape: [4, 4, 3] });
    const model = tf.model({ inputs: x, outputs: apply(new TimesTwo({ name: 'doubler' }), x) });
    assert.throws(() => exportToOnnx(model), /layer 'doubler' \(class TimesTwo\)/);
    model.dispose();
  });

  test('an unknown extra output names the missing layer', () => {
    const model = buildArchitecture('mobilenet', { alpha: 0.25, inputSize: [32, 32] });
    assert.throws(() => exportToOnnx(model, { outputs: ['no_such_layer'] }), /no_such_layer/);
    model.dispose();
  });
});

describe('OnnxSession', () => {
  test('onnxAvailable reports the version and the cpu provider', async () => {
    const a = await onnxAvailable();
    assert.ok(a.ok, a.ok ? '' : a.reason);
    assert.match(a.version, /^\d+\.\d+\.\d+/);
    assert.ok(a.providers.includes('cpu'));
  });

  test('the .onnx cache: the second create reuses the file, same outputs; a corrupt file is replaced', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'backbones-onnx-'));
    try {
      const build = (seed: number) => {
        const m = buildArchitecture('mobilenet', { alpha: 0.25, inputSize: [96, 96] });
        randomizeWeights(m, seed);
        return m;
      };
      const model = build(5);
      const outputs = ['conv_pw_13_relu'];
      const hash = await weightsHash(model);
      const twin = build(5);
      assert.equal(await weightsHash(twin), hash, 'same architecture and seed: same hash');
      twin.dispose();
      const other = build(6);
      assert.notEqual(await weightsHash(other), hash, 'other weights: other hash');
      other.dispose();

      const cacheKey = onnxCacheKey({ weightsHash: hash, architecture: 'mobilenet_0.25_96', outputs });
      assert.match(cacheKey, /^[A-Za-z0-9._-]+$/);
      const input = uniform(2 * 96 * 96 * 3, -1, 1, 8);
      const shape: Shape4 = [2, 96, 96, 3];

      const first = await OnnxSession.create(model, { cacheDir: dir, cacheKey, outputs, threads: 1 });
      assert.equal(first.exported, true);
      const file = path.join(dir, 'onnx', `${cacheKey}.onnx`);
      assert.equal(first.modelPath, file);
      const mtime = (await stat(file)).mtimeMs;
      const a = await first.run(input, shape);
      await first.dispose();

      const second = await OnnxSession.create(model, { cacheDir: dir, cacheKey, outputs, threads: 1 });
      assert.equal(second.exported, false);
      assert.equal((await stat(file)).mtimeMs, mtime, 'the cached file is not rewritten');
      assert.deepEqual(second.outputNames, first.outputNames);
      const b = await second.run(input, shape);
      await second.dispose();
      for (const name of first.outputNames) assert.deepEqual(b[name]!.data, a[name]!.data);
      assert.deepEqual(await readdir(path.join(dir, 'onnx')), [`${cacheKey}.onnx`], 'no temp files left');

      await writeFile(file, 'not an onnx model');
      const third = await OnnxSession.create(model, { cacheDir: dir, cacheKey, outputs, threads: 1 });
      assert.equal(third.exported, true, 'a corrupt cache entry is re-exported');
      assert.deepEqual((await third.run(input, shape))[outputs[0]!]!.data, a[outputs[0]!]!.data);
      await third.dispose();
      model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('run() checks the input size and output names; create() checks providers; spinning on works', async () => {
    const model = buildArchitecture('mobilenet', { alpha: 0.25, inputSize: [32, 32] });
    const session = await OnnxSession.create(model, { threads: 1 });
    try {
      assert.deepEqual(session.outputNames, ['reshape_2']);
      await assert.rejects(session.run(new Float32Array(10), [1, 32, 32, 3]), /10 values/);
      await assert.rejects(session.run(new Float32Array(32 * 32 * 3), [1, 32, 32, 3], ['nope']), /no output named nope/);
      await assert.rejects(OnnxSession.create(model, { executionProviders: ['no-such-ep'] }), /no-such-ep.*lists: .*cpu/);
      // spinning: true leaves the session config out entirely (an `extra: undefined` crashed the binding).
      const spinning = await OnnxSession.create(model, { threads: 1, spinning: true });
      const input = uniform(32 * 32 * 3, -1, 1, 1);
      assert.deepEqual((await spinning.run(input, [1, 32, 32, 3])).reshape_2!.data, (await session.run(input, [1, 32, 32, 3])).reshape_2!.data);
      await spinning.dispose();
    } finally {
      await session.dispose();
      model.dispose();
    }
  });
});
