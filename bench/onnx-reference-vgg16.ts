// How close is the exporter to a hand-written ONNX graph? Writes VGG16 directly as an
// NCHW ONNX graph (no transposes, random weights), exports VGG16 from the zoo
// (buildArchitecture + randomizeWeights + exportToOnnx, NHWC input), and times both on
// onnxruntime-node at the same batch and threads, interleaving the runs so drift hits
// both alike. Target: exported within 10 % of the reference.
//
//   npx tsx bench/onnx-reference-vgg16.ts [--batch 8] [--threads 2] [--runs 10] [--warmup 2] [--spinning]
import { prng } from '../src/zoo/random.js';
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { exportToOnnx } from '../src/onnx/export.js';
import { GraphBuilder } from '../src/onnx/graph.js';
import { attr } from '../src/onnx/proto.js';
import { buildArchitecture } from '../src/zoo/architectures.js';
import { randomizeWeights } from '../src/zoo/random.js';

const { values: args } = parseArgs({
  options: {
    batch: { type: 'string', default: '8' },
    threads: { type: 'string', default: '2' },
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    // Off by default, as in OnnxSession: spinning threads inflate CPU% for little gain.
    spinning: { type: 'boolean', default: false },
  },
});
const BATCH = Number(args.batch);
const THREADS = Number(args.threads);
const RUNS = Number(args.runs);
const WARMUP = Number(args.warmup);
const SIZE = 224;


const next = prng(1234);
function heUniform(size: number, fanIn: number): Float32Array {
  const limit = Math.sqrt(6 / fanIn);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (next() * 2 - 1) * limit;
  return out;
}

/** VGG16 (Simonyan & Zisserman, configuration D) as NCHW ONNX: 13 conv3x3+ReLU, 5 max-pools, 3 FC. */
function referenceVgg16(): { bytes: Uint8Array; input: string; output: string } {
  const g = new GraphBuilder();
  g.reserve('input', 'predictions');
  g.addInput('input', ['N', 3, SIZE, SIZE]);
  const plan: Array<number | 'M'> = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];
  let x = 'input';
  let channels = 3;
  for (const [i, step] of plan.entries()) {
    if (step === 'M') {
      x = g.node('MaxPool', [x], `pool${i}`, [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])]);
      continue;
    }
    const w = g.floats(`conv${i}_W`, [step, channels, 3, 3], heUniform(step * channels * 9, channels * 9));
    const b = g.floats(`conv${i}_B`, [step], new Float32Array(step));
    x = g.node('Conv', [x, w, b], `conv${i}`, [attr.ints('kernel_shape', [3, 3]), attr.ints('pads', [1, 1, 1, 1])]);
    x = g.node('Relu', [x], `relu${i}`);
    channels = step;
  }
  x = g.node('Flatten', [x], 'flatten', [attr.int('axis', 1)]);
  const fc = (name: string, inputs: number, units: number, relu: boolean) => {
    const w = g.floats(`${name}_W`, [inputs, units], heUniform(inputs * units, inputs));
    const b = g.floats(`${name}_B`, [units], new Float32Array(units));
    x = g.node('Gemm', [x, w, b], name);
    if (relu) x = g.node('Relu', [x], `${name}_relu`);
  };
  fc('fc1', 7 * 7 * 512, 4096, true);
  fc('fc2', 4096, 4096, true);
  fc('fc3', 4096, 1000, false);
  g.node('Softmax', [x], 'predictions', [attr.int('axis', 1)], 'predictions');
  g.addOutput('predictions', ['N', 1000]);
  return { bytes: g.encode('vgg16_reference', 'bench'), input: 'input', output: 'predictions' };
}

function sessionOptions(): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: args.spinning ? '1' : '0' } } },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Candidate {
  label: string;
  session: ort.InferenceSession;
  feeds: Record<string, ort.Tensor>;
  timesMs: number[];
}

async function main(): Promise<void> {
  console.log(`VGG16 on onnxruntime-node ${ort.env.versions.node}: batch ${BATCH}, ${THREADS} intra-op threads, ` +
    `spinning ${args.spinning ? 'on' : 'off'}, ${WARMUP} warm-up + ${RUNS} timed runs each, interleaved; ${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}`);

  let t0 = performance.now();
  const ref = referenceVgg16();
  console.log(`reference graph written: ${(ref.bytes.length / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  t0 = performance.now();
  const model = buildArchitecture('vgg16');
  randomizeWeights(model, 42);
  const exported = exportToOnnx(model);
  model.dispose();
  console.log(`exported from the zoo: ${(exported.bytes.length / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s (build + randomize + export)`);

  const pixels = new Float32Array(BATCH * 3 * SIZE * SIZE);
  const rnd = prng(7);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rnd() * 2 - 1;

  const candidates: Candidate[] = [
    {
      label: 'reference (hand-written NCHW)',
      session: await ort.InferenceSession.create(ref.bytes, sessionOptions()),
      feeds: { [ref.input]: new ort.Tensor('float32', pixels, [BATCH, 3, SIZE, SIZE]) },
      timesMs: [],
    },
    {
      label: 'exported (NHWC in, from tfjs)',
      session: await ort.InferenceSession.create(exported.bytes, sessionOptions()),
      feeds: { [exported.inputName]: new ort.Tensor('float32', pixels, [BATCH, SIZE, SIZE, 3]) },
      timesMs: [],
    },
  ];

  for (let i = 0; i < WARMUP; i++) for (const c of candidates) await c.session.run(c.feeds);
  for (let i = 0; i < RUNS; i++) {
    for (const c of candidates) {
      const start = performance.now();
      await c.session.run(c.feeds);
      c.timesMs.push(performance.now() - start);
    }
  }

  const rates = candidates.map((c) => {
    const ms = median(c.timesMs);
    const rate = (BATCH * 1000) / ms;
    const spread = `min ${Math.min(...c.timesMs).toFixed(0)} / max ${Math.max(...c.timesMs).toFixed(0)} ms`;
    console.log(`${c.label.padEnd(32)} median ${ms.toFixed(0)} ms/batch  ${rate.toFixed(2)} img/s  (${spread})`);
    return rate;
  });
  const ratio = rates[1]! / rates[0]!;
  console.log(`exported / reference: ${ratio.toFixed(3)} (${ratio >= 0.9 ? 'within' : 'NOT within'} 10 %)`);
  for (const c of candidates) await c.session.release();
}

await main();
