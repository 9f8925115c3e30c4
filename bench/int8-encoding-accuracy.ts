// Accuracy of each int8 weight encoding against fp32 on the real MobileNet v1 0.25, with the
// tests' split of ../shared/data/images (even positions calibrate, odd ones evaluate): the
// model quantized with int8 weights, then re-encoded to uint8 for the non-depthwise convs
// (the scheme AVX2 CPUs get) and for every conv. Run it natively and under
// `qemu-x86_64 -cpu Haswell-v4 $(which node) --import tsx bench/int8-encoding-accuracy.ts`
// (ONNX Runtime's AVX2 kernels, whatever the host): the exact encodings give the same
// figures everywhere, int8 weights do not on AVX2. No speed here (emulated timings mean nothing).
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tf } from '../src/tf.js';
import { modelHandler } from '../src/weights/tfjs-artifacts.js';
import { exportToOnnx } from '../src/onnx/export.js';
import { loadOrt } from '../src/onnx/ort.js';
import { DEFAULT_QUANTIZE_OPTIONS, cpuOfKind, decodeFolder, describeCpu, encodeQuantized, openImageFolder, quantizeOnnx, thisCpu } from '../src/onnx/quantize/index.js';
import { agreement, outputRows } from '../src/onnx/quantize/evaluate.js';
import { reencode, schemeLabel, type WeightScheme } from '../src/onnx/quantize/encoding.js';
import { readModel, writeModel } from '../src/onnx/quantize/model.js';

const DATA = path.resolve(process.env.BACKBONES_TEST_DATA ?? '../shared/data');
const SETTINGS = { size: [224, 224] as [number, number], preprocess: 'tf' as const };
const OUTPUTS = { classifierOutput: 'reshape_2', featureOutput: 'global_average_pooling2d_1' };

const root = mkdtempSync(path.join(os.tmpdir(), 'bb-int8-acc-'));
const [calib, evaluate] = [path.join(root, 'calib'), path.join(root, 'eval')];
mkdirSync(calib);
mkdirSync(evaluate);
readdirSync(path.join(DATA, 'images'))
  .filter((f) => !f.startsWith('truncated'))
  .sort()
  .forEach((f, i) => symlinkSync(path.join(DATA, 'images', f), path.join(i % 2 === 0 ? calib : evaluate, f)));
try {
  await tf.setBackend('cpu');
  const model = await tf.loadLayersModel(modelHandler(path.join(DATA, 'models', 'mobilenet_v1_0.25_224')));
  const fp32 = exportToOnnx(model, { outputs: [OUTPUTS.featureOutput] }).bytes;
  const { batches } = await decodeFolder(await openImageFolder(calib, '--calibrate', SETTINGS), SETTINGS, 1, '--calibrate');
  async function* it() {
    yield* batches;
  }
  const s8 = encodeQuantized((await quantizeOnnx(fp32, it(), { ...DEFAULT_QUANTIZE_OPTIONS, threads: 2, cpu: cpuOfKind('x86-avx512-vnni') })).model);
  const held = (await decodeFolder(await openImageFolder(evaluate, '--evaluate', SETTINGS), SETTINGS, 8, '--evaluate')).batches;
  const ort = await loadOrt();
  const rowsOf = async (bytes: Uint8Array) => {
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    try {
      return await outputRows(session, held, OUTPUTS);
    } finally {
      await session.release();
    }
  };
  const reference = await rowsOf(fp32);
  const cpu = await thisCpu();
  console.log(`# MobileNet v1 0.25, 13 calibration / 13 held-out photos; ONNX Runtime ${cpu.onnxruntime} on ${describeCpu(cpu)}; ${new Date().toISOString()}`);
  console.log('| weights | top-1 agreement | top-5 overlap | feature cosine mean | worst |');
  console.log('|---|---:|---:|---:|---:|');
  const schemes: WeightScheme[] = [
    { conv: 's8', depthwise: 's8' },
    { conv: 'u8', depthwise: 's8' },
    { conv: 'u8', depthwise: 'u8' },
  ];
  for (const scheme of schemes) {
    const m = readModel(s8);
    reencode(m, scheme);
    const a = agreement(reference, await rowsOf(writeModel(m)), OUTPUTS);
    console.log(`| ${schemeLabel(scheme)} | ${(a.top1Agreement! * 100).toFixed(1)} % | ${(a.top5Overlap! * 100).toFixed(1)} % | ${a.featureCosineMean!.toFixed(4)} | ${a.featureCosineWorst!.toFixed(4)} |`);
  }
  model.dispose();
} finally {
  rmSync(root, { recursive: true, force: true });
}
