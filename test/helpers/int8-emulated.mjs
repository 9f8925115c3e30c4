// Runs under `qemu-x86_64 -cpu Haswell-v4` for test/int8-cpu.test.ts: ONNX Runtime then
// dispatches its AVX2 kernels (no VNNI), whatever the host CPU is. Loads an int8 model
// made for a VNNI CPU (int8 weights), fits it to this CPU with int8ForThisCpu (as every
// int8 load does), and compares it with fp32 on the held-out photos; also the same model
// run as it is (int8 weights on AVX2), which the issue measured as inexact. Plain JS over
// dist/ (built by npm test's pretest): tsx would spend most of the emulated time compiling.
//   node int8-emulated.mjs DIR   (DIR: fp32.onnx, int8.onnx, eval.f32, spec.json)
import { readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const dist = new URL('../../dist/onnx/', import.meta.url);
const { thisCpu } = await import(new URL('quantize/cpu.js', dist).href);
const { int8ForThisCpu } = await import(new URL('quantize/this-cpu.js', dist).href);
const { outputRows, agreement } = await import(new URL('quantize/evaluate.js', dist).href);
const { loadOrt } = await import(new URL('ort.js', dist).href);

const spec = JSON.parse(readFileSync(path.join(dir, 'spec.json'), 'utf8'));
const raw = readFileSync(path.join(dir, 'eval.f32'));
const pixels = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const per = spec.shape.slice(1).reduce((a, b) => a * b, 1);
const batches = [];
for (let i = 0; i < spec.shape[0]; i += 8) {
  const n = Math.min(8, spec.shape[0] - i);
  batches.push({ data: pixels.subarray(i * per, (i + n) * per), shape: [n, ...spec.shape.slice(1)] });
}

const cpu = await thisCpu();
const int8 = readFileSync(path.join(dir, 'int8.onnx'));
const fitted = await int8ForThisCpu(int8, 'int8.onnx');
const ort = await loadOrt();
const options = { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } };
const rowsOf = async (bytes) => {
  const session = await ort.InferenceSession.create(bytes, options);
  try {
    return await outputRows(session, batches, spec);
  } finally {
    await session.release();
  }
};
const reference = await rowsOf(readFileSync(path.join(dir, 'fp32.onnx')));
const result = {
  cpu,
  note: fitted.note ?? null,
  scheme: fitted.scheme ?? null,
  fitted: agreement(reference, await rowsOf(fitted.bytes), spec),
  asMade: agreement(reference, await rowsOf(int8), spec),
};
process.stdout.write(JSON.stringify(result) + '\n');
