// int8 weight encodings on ONNX Runtime, one process, interleaved (issue 19): the same
// quantized model with int8 weights (what VNNI/AMX/ARM CPUs get) and re-encoded to uint8
// for the non-depthwise convs (what AVX2 and AVX-512-without-VNNI CPUs get), plus, for
// models with depthwise convs, every conv uint8; each timed against fp32 on the same batch,
// round-robin, so all variants see the same machine load. Speeds here are this CPU's: on a
// VNNI CPU the s8 variant runs VNNI kernels, which an AVX2 CPU does not have.
//   npx tsx bench/int8-encodings.ts [--models vgg16,mobilenet] [--batch 8] [--runs 7]
//     [--weights random] [--calibrate DIR] [--threads 2]
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startEngine } from '../src/engines/select.js';
import { loadBackbone } from '../src/zoo/load.js';
import { exportToOnnx } from '../src/onnx/export.js';
import { loadOrt } from '../src/onnx/ort.js';
import { DEFAULT_QUANTIZE_OPTIONS, decodeFolder, encodeQuantized, int8ExportOutputs, openImageFolder, quantizeOnnx, thisCpu, describeCpu, cpuOfKind } from '../src/onnx/quantize/index.js';
import { readModel, writeModel } from '../src/onnx/quantize/model.js';
import { reencode, weightSites } from '../src/onnx/quantize/encoding.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'vgg16,mobilenet' },
    batch: { type: 'string', default: '8' },
    runs: { type: 'string', default: '7' },
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
const cpu = await thisCpu();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`# int8 weight encodings vs fp32, batch ${batchSize}, ${threads} threads, ${runs} round-robin runs after 2 warm-ups each`);
console.log(`# ${os.cpus()[0]?.model}, ${describeCpu(cpu)}, flags ${cpu.flags.join(' ')}; ${os.availableParallelism()} cores, node ${process.version}, onnxruntime-node ${cpu.onnxruntime}, ${new Date().toISOString()}`);
console.log('| model | weights | variant | ms/batch (median) | img/s | vs fp32 | load avg (1 min) at end |');
console.log('|---|---|---|---:|---:|---:|---:|');
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
  // Made for a VNNI CPU: int8 weights everywhere, whatever this CPU is.
  const s8 = encodeQuantized((await quantizeOnnx(fp32, it(), { ...DEFAULT_QUANTIZE_OPTIONS, threads, cpu: cpuOfKind('x86-avx512-vnni') })).model);
  backbone.dispose();
  const variant = (scheme: Parameters<typeof reencode>[1]) => {
    const m = readModel(s8);
    reencode(m, scheme);
    return writeModel(m);
  };
  const variants: Array<[string, Uint8Array]> = [
    ['fp32', fp32],
    ['int8, s8 weights', s8],
    ['int8, u8 weights (depthwise s8)', variant({ conv: 'u8', depthwise: 's8' })],
  ];
  if (weightSites(readModel(s8)).some((s) => s.depthwise)) variants.push(['int8, u8 weights everywhere', variant({ conv: 'u8', depthwise: 'u8' })]);
  const options = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' as const, extra: { session: { intra_op: { allow_spinning: '0' } } } };
  const sessions = await Promise.all(variants.map(([, bytes]) => ort.InferenceSession.create(bytes, options)));
  const [h, w] = info.inputSize;
  const data = new Float32Array(batchSize * h * w * 3);
  for (let i = 0; i < batchSize; i++) data.set(calibration[i % calibration.length]!.data, i * h * w * 3);
  const time = async (s: (typeof sessions)[number]) => {
    const t0 = performance.now();
    await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', data, [batchSize, h, w, 3]) }, [s.outputNames[0]!]);
    return performance.now() - t0;
  };
  for (let i = 0; i < 2; i++) for (const s of sessions) await time(s);
  const times: number[][] = sessions.map(() => []);
  for (let r = 0; r < runs; r++) for (let v = 0; v < sessions.length; v++) times[v]!.push(await time(sessions[v]!));
  for (const s of sessions) await s.release();
  const base = median(times[0]!);
  for (let v = 0; v < variants.length; v++) {
    const m = median(times[v]!);
    console.log(`| ${name} | ${values.weights} | ${variants[v]![0]} | ${m.toFixed(0)} | ${((batchSize * 1000) / m).toFixed(2)} | ${(base / m).toFixed(2)}x | ${v === variants.length - 1 ? os.loadavg()[0]!.toFixed(2) : ''} |`);
  }
}
