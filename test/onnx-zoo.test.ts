// The ONNX export of every zoo architecture (seeded random weights) against tfjs: the
// model's output and the named intermediate layers the extract command uses, within 1e-4
// relative (max |diff| / max |reference|). tfjs runs on wasm (the cpu backend is ~30x
// slower at 224); ONNX Runtime on its CPU provider.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../src/tf.js';
import { startEngine } from '../src/engines/select.js';
import { buildArchitecture } from '../src/zoo/architectures.js';
import type { BuildOptions } from '../src/zoo/card.js';
import { randomizeWeights } from '../src/zoo/random.js';
import { OnnxSession } from '../src/onnx/session.js';
import { maxRelDiff } from './helpers/compare.js';

const TOLERANCE = 1e-4;


/** Deterministic pixels in [-1, 1] (what 'tf' preprocessing produces). */
function pixels(n: number, size: [number, number], seed: number): Float32Array {
  const out = new Float32Array(n * size[0] * size[1] * 3);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

interface Case {
  label: string;
  arch: string;
  opts?: BuildOptions;
  size: [number, number];
  batch: number;
  extract: string[];
}

const CASES: Case[] = [
  { label: 'mobilenet alpha 0.25', arch: 'mobilenet', opts: { alpha: 0.25 }, size: [224, 224], batch: 2, extract: ['conv_pw_13_relu'] },
  { label: 'mobilenet alpha 1.0', arch: 'mobilenet', opts: { alpha: 1 }, size: [224, 224], batch: 1, extract: ['conv_pw_13_relu'] },
  { label: 'mobilenet_v2', arch: 'mobilenet_v2', size: [224, 224], batch: 1, extract: ['out_relu'] },
  // Logits, not softmax: with random weights ResNet50's softmax saturates to one-hot,
  // which would compare nothing.
  { label: 'resnet50', arch: 'resnet50', opts: { classifierActivation: 'linear' }, size: [224, 224], batch: 1, extract: ['avg_pool'] },
  { label: 'inception_v3', arch: 'inception_v3', size: [299, 299], batch: 1, extract: ['mixed10'] },
  { label: 'vgg16', arch: 'vgg16', size: [224, 224], batch: 1, extract: ['fc2', 'block5_pool'] },
];

describe('ONNX export of the zoo matches tfjs (random weights)', () => {
  before(async () => {
    await startEngine({ backend: 'wasm' });
  });
  after(() => tf.disposeVariables());

  for (const c of CASES) {
    test(`${c.label}: outputs and ${c.extract.join(', ')}`, async (t) => {
      const model = buildArchitecture(c.arch, { ...c.opts, inputSize: c.size });
      randomizeWeights(model, 11);
      const session = await OnnxSession.create(model, { outputs: c.extract, threads: 2 });
      try {
        const names = [model.outputs[0]!.sourceLayer.name, ...c.extract];
        assert.deepEqual(session.outputNames, names);
        const input = pixels(c.batch, c.size, 3);
        const shape: [number, number, number, number] = [c.batch, c.size[0], c.size[1], 3];
        const got = await session.run(input, shape);

        const probe = tf.model({ inputs: model.inputs, outputs: names.map((n) => model.getLayer(n).output as tf.SymbolicTensor) });
        const refs = tf.tidy(() => probe.predict(tf.tensor4d(input, shape)) as tf.Tensor[]);
        for (const [i, name] of names.entries()) {
          const ref = refs[i]!;
          assert.deepEqual(got[name]!.dims, ref.shape, `${name} shape`);
          const rel = maxRelDiff(ref.dataSync(), got[name]!.data);
          t.diagnostic(`${c.label} ${name} ${JSON.stringify(ref.shape)}: max rel diff ${rel.toExponential(2)}`);
          assert.ok(rel < TOLERANCE, `${name}: max rel diff ${rel} >= ${TOLERANCE}`);
        }
        tf.dispose(refs);
      } finally {
        await session.dispose();
        model.dispose();
      }
    });
  }
});
