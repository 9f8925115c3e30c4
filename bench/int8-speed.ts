// int8 vs fp32 on ONNX Runtime, one process, interleaved: for each model, export fp32,
// quantize (calibrating on a few real photos), check the optimized graph holds integer
// kernels, then time fp32 and int8 alternately on the same batch.
//   npx tsx bench/int8-speed.ts [--models vgg16,resnet50,mobilenet] [--batch 8] [--runs 5]
//     [--weights random] [--calibrate DIR] [--threads 2]
// Random weights are fine for speed (not for accuracy; see bench/int8-accuracy.ts).
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startEngine } from '../src/engines/select.js';
import { loadBackbone } from '../src/zoo/load.js';
import { exportToOnnx } from '../src/onnx/export.js';
import { loadOrt } from '../src/onnx/ort.js';
import { DEFAULT_QUANTIZE_OPTIONS, decodeFolder, encodeQuantized, inspectOptimized, int8ExportOutputs, openImageFolder, quantizeOnnx } from '../src/onnx/quantize/index.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'vgg16,resnet50,mobilenet' },
    batch: { type: 'string', default: '8' },
    runs: { type: 'string', default: '5' },
    weights: { type: 'string', default: 'random' },
    calibrate: { type: 'string', default: '../shared/data/images' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
  },
});
const batchSize = Number(values.batch);
const runs = Number(values.runs);
const threads = Number(values.threads);
const engine = await startEngine({ backend: 'cpu' });
const ort = await loadOrt();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`# int8 vs fp32, batch ${batchSize}, ${threads} threads, ${runs} alternating runs after 2 warm-ups each`);
console.log(`# ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores, node ${process.version}, onnxruntime-node ${ort.env.versions.node ?? ''}, ${new Date().toISOString()}`);
console.log('| model | weights | integer kernels | float convs left | leftover Q/DQ | fp32 ms/batch | int8 ms/batch | fp32 img/s | int8 img/s | speed-up | load avg (1 min) |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const name of values.models!.split(',')) {
  const backbone = await loadBackbone(name, { weights: values.weights, allowDownload: false, engine });
  const info = backbone.info;
  const model = backbone.model as Parameters<typeof exportToOnnx>[0];
  const subject = { model, name, featureLayer: info.featureLayer, images: { size: info.inputSize, preprocess: info.preprocess, resize: info.resize, interpolation: info.interpolation } };
  const fp32 = exportToOnnx(model, { outputs: int8ExportOutputs(subject, []) }).bytes;
  const folder = await openImageFolder(values.calibrate!, '--calibrate', subject.images);
  const { batches } = await decodeFolder(folder, subject.images, 1, '--calibrate');
  const calibration = batches.slice(0, 8);
  async function* it() {
    yield* calibration;
  }
  const { model: q } = await quantizeOnnx(fp32, it(), { ...DEFAULT_QUANTIZE_OPTIONS, threads });
  const int8 = encodeQuantized(q);
  backbone.dispose();
  const optimized = await inspectOptimized(int8, threads);
  const options = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' as const, extra: { session: { intra_op: { allow_spinning: '0' } } } };
  const a = await ort.InferenceSession.create(fp32, options);
  const b = await ort.InferenceSession.create(int8, options);
  const [h, w] = info.inputSize;
  const data = new Float32Array(batchSize * h * w * 3);
  for (let i = 0; i < batchSize; i++) data.set(calibration[i % calibration.length]!.data, i * h * w * 3);
  const feed = (s: typeof a) => ({ [s.inputNames[0]!]: new ort.Tensor('float32', data, [batchSize, h, w, 3]) });
  const time = async (s: typeof a) => {
    const t0 = performance.now();
    await s.run(feed(s), [s.outputNames[0]!]);
    return performance.now() - t0;
  };
  for (let i = 0; i < 2; i++) {
    await time(a);
    await time(b);
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let r = 0; r < runs; r++) {
    ta.push(await time(a));
    tb.push(await time(b));
  }
  await a.release();
  await b.release();
  const ma = median(ta);
  const mb = median(tb);
  const ips = (ms: number) => ((batchSize * 1000) / ms).toFixed(2);
  console.log(`| ${name} | ${values.weights} | ${optimized.integerKernels} | ${optimized.floatConvs} | ${optimized.leftoverQdq} | ${ma.toFixed(0)} | ${mb.toFixed(0)} | ${ips(ma)} | ${ips(mb)} | ${(ma / mb).toFixed(2)}x | ${os.loadavg()[0]!.toFixed(2)} |`);
}
