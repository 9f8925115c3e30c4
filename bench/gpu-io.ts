// What the way into and out of ONNX Runtime costs per batch, one process, interleaved:
//   engine  the path classify/extract take: the stacked Float32Array as a tfjs tensor, the
//           engine's run (batch.data() hands over the same array), the output wrapped as a tfjs
//           tensor and read back with data();
//   direct  the same session fed the Float32Array itself, the output's array read as is;
//   bound   a second session of the same model with the output preallocated (ORT writes into it).
// Checks too that the engine path hands ORT the very array that was stacked (no copy on the way in).
//   npx tsx bench/gpu-io.ts [--provider webgpu|cpu] [--model mobilenet_0.25] [--batch 8] [--runs 15]
// The paths run in rotating order (each run starts with another path).
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { tf } from '../src/tf.js';
import { startEngine } from '../src/engines/select.js';
import { loadBackbone } from '../src/zoo/load.js';
import { exportToOnnx } from '../src/onnx/export.js';
import { OnnxSession } from '../src/onnx/session.js';
import { loadOrt } from '../src/onnx/ort.js';

const { values } = parseArgs({
  options: {
    provider: { type: 'string', default: 'webgpu' },
    model: { type: 'string', default: 'mobilenet_0.25' },
    batch: { type: 'string', default: '8' },
    runs: { type: 'string', default: '15' },
  },
});
const batchSize = Number(values.batch);
const runs = Number(values.runs);
const engine = await startEngine({ providers: [values.provider!] });
const backbone = await loadBackbone(values.model!, { weights: 'random', allowDownload: false, engine, splitBatches: false });
const [h, w] = backbone.info.inputSize;
const data = new Float32Array(batchSize * h * w * 3).map((_, i) => Math.sin(i) * 0.9);

// Does the engine path hand ORT the stacked array itself?
const seen: Float32Array[] = [];
const run = OnnxSession.prototype.run;
OnnxSession.prototype.run = function (input, shape, outputs) {
  seen.push(input);
  return run.call(this, input, shape, outputs);
};
const probe = tf.tensor4d(data, [batchSize, h, w, 3]);
(await backbone.infer(probe)).dispose();
probe.dispose();
OnnxSession.prototype.run = run;

const ort = await loadOrt();
const bytes = exportToOnnx(backbone.model as tf.LayersModel).bytes;
const direct = await OnnxSession.create(backbone.model as tf.LayersModel, { executionProviders: [values.provider!] });
// The engine's session options (src/onnx/session.ts), so that only the output binding differs.
const session = await ort.InferenceSession.create(bytes, {
  executionProviders: [values.provider!],
  intraOpNumThreads: os.availableParallelism(),
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
});
const outName = session.outputNames[0]!;
const probeOut = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, [batchSize, h, w, 3]) });
const outDims = [...probeOut[outName]!.dims];
const outBuffer = new ort.Tensor('float32', new Float32Array(probeOut[outName]!.size), outDims);

const paths: Record<string, () => Promise<number>> = {
  engine: async () => {
    const batch = tf.tensor4d(data, [batchSize, h, w, 3]);
    const out = await backbone.infer(batch);
    const v = (await out.data())[0]!;
    tf.dispose([batch, out]);
    return v;
  },
  direct: async () => (await direct.run(data, [batchSize, h, w, 3]))[direct.outputNames[0]!]!.data[0]!,
  bound: async () => {
    await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, [batchSize, h, w, 3]) }, { [outName]: outBuffer });
    return (outBuffer.data as Float32Array)[0]!;
  },
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
for (const f of Object.values(paths)) for (let i = 0; i < 2; i++) await f();
const names = Object.keys(paths);
for (let i = 0; i < runs; i++) {
  // Each run starts with another path: no path always follows the same one.
  for (const k of [...names.slice(i % names.length), ...names.slice(0, i % names.length)]) {
    const f = paths[k]!;
    const t0 = performance.now();
    await f();
    times[k]!.push(performance.now() - t0);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`# ${values.model} batch ${batchSize}, provider ${values.provider} (${engine.choice.adapter}), ${runs} rotating interleaved runs after 2 warm-ups; ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${new Date().toISOString()}`);
console.log(`# engine path hands ORT the stacked array itself: ${seen.length === 1 && seen[0] === data}`);
console.log('| path | median ms/batch | ratio to engine |');
console.log('|---|---|---|');
const base = median(times.engine!);
for (const [k, t] of Object.entries(times)) console.log(`| ${k} | ${median(t).toFixed(2)} | ${(median(t) / base).toFixed(3)} |`);
backbone.dispose();
await direct.dispose();
await session.release();
