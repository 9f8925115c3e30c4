// End to end vs model-only, interleaved in one process so that a shared machine's
// changing load hits both alike: each round runs the model alone on random input for
// as many images as the folder holds, then one pass of the real pipeline (decode pool
// -> prefetch -> engine) over the folder with --decode exact, then again model-only,
// then one pass with --decode fast. Rates are sums over rounds (images / seconds).
// The overlap limit is what perfect overlap on every core would give, from measured CPU
// times: cores / (decode + preprocess CPU per image in the pool + the model's CPU per image
// in the model-only runs); end to end is reported as a % of it.
//
//   npx tsx bench/pipeline-ratio.ts DIR [MODEL=mobilenet] [BATCH=8] [ROUNDS=4]
//   (env DECODE_THREADS=N, THREADS=N: decode threads and the engine's threads)
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { tf } from '../src/tf.js';
import { startEngine } from '../src/engines/select.js';
import { loadBackbone } from '../src/zoo/load.js';
import { expandInputs } from '../src/images/inputs.js';
import { DEFAULT_EXTENSIONS } from '../src/images/formats.js';
import { emptyPipelineStats, runBatches, type ImageSettings } from '../src/pipeline/batches.js';
import { startDecodePool } from '../src/pipeline/decode-pool.js';
import { defaultDecodeThreads } from '../src/pipeline/decode-threads.js';
import { stageReport } from '../src/pipeline/stages.js';
import { startCpuUsage } from '../src/monitor/process.js';
import { jpegDecoder, type DecodeMode } from '../src/images/index.js';
import { overlapLimit } from '../src/measure/metrics.js';

const [dir, model = 'mobilenet', batchArg = '8', roundsArg = '4'] = process.argv.slice(2);
if (!dir) throw new Error('usage: npx tsx bench/pipeline-ratio.ts DIR [MODEL] [BATCH] [ROUNDS]');
const batchSize = Number(batchArg);
const rounds = Number(roundsArg);

const engine = await startEngine({ backend: process.env.BACKBONES_BACKEND ?? 'onnx', ...(process.env.THREADS ? { threads: Number(process.env.THREADS) } : {}) });
const choice = engine.choice;
const backbone = await loadBackbone(model, { weights: 'random', allowDownload: false, engine });
await backbone.prepare();
backbone.releaseTfjsWeights();
const info = backbone.info;
const entries = (await expandInputs([dir], { extensions: DEFAULT_EXTENSIONS })).filter((e) => !e.error);
const threads = Number(process.env.DECODE_THREADS ?? defaultDecodeThreads());
const infer = async (batch: tf.Tensor4D) => {
  const out = await backbone.infer(batch);
  await out.data();
  out.dispose();
  return new Array<number>(batch.shape[0]).fill(0);
};
const settingsFor = (decode: DecodeMode): ImageSettings => ({ size: info.inputSize, preprocess: info.preprocess, resize: info.resize, interpolation: info.interpolation, decode });
const pools = { exact: await startDecodePool(threads, settingsFor('exact')), fast: await startDecodePool(threads, settingsFor('fast')) };

const random = tf.tidy(() => tf.randomUniform([batchSize, info.inputSize[0], info.inputSize[1], 3], -1, 1, 'float32', 7)) as tf.Tensor4D;
async function modelOnly(images: number): Promise<{ images: number; ms: number; cpuMs: number }> {
  const cpu = startCpuUsage();
  const t0 = performance.now();
  let done = 0;
  while (done < images) {
    await infer(random);
    done += batchSize;
  }
  const ms = performance.now() - t0;
  const c = cpu.stop();
  return { images: done, ms, cpuMs: c.userMs + c.systemMs };
}

async function endToEnd(decode: DecodeMode) {
  const cpu = startCpuUsage();
  const s = emptyPipelineStats();
  await runBatches(entries, settingsFor(decode), batchSize, infer, () => {}, { loader: pools[decode], stats: s });
  const c = cpu.stop();
  return { s, cpuMs: c.userMs + c.systemMs };
}

// Warm-up: the engine and both pools (kernels, JIT, file cache).
await modelOnly(4 * batchSize);
await endToEnd('exact');
await endToEnd('fast');

const load0 = os.loadavg();
const acc = {
  exact: { model: { images: 0, ms: 0, cpuMs: 0 }, e2e: { images: 0, failed: 0, ms: 0, cpuMs: 0, poolCpuMs: 0, waitMs: 0, inferenceMs: 0, decodeMs: 0, prepMs: 0, prepCpuMs: 0, decoded: 0 } },
  fast: { model: { images: 0, ms: 0, cpuMs: 0 }, e2e: { images: 0, failed: 0, ms: 0, cpuMs: 0, poolCpuMs: 0, waitMs: 0, inferenceMs: 0, decodeMs: 0, prepMs: 0, prepCpuMs: 0, decoded: 0 } },
};
for (let r = 0; r < rounds; r++) {
  for (const decode of ['exact', 'fast'] as const) {
    const m = await modelOnly(entries.length);
    const a = acc[decode];
    a.model.images += m.images;
    a.model.ms += m.ms;
    a.model.cpuMs += m.cpuMs;
    const { s, cpuMs } = await endToEnd(decode);
    a.e2e.images += s.images - s.failed;
    a.e2e.failed += s.failed;
    a.e2e.ms += s.wallMs;
    a.e2e.cpuMs += cpuMs;
    a.e2e.poolCpuMs += s.poolCpuMs ?? NaN;
    a.e2e.waitMs += s.waitMs;
    a.e2e.inferenceMs += s.inferenceMs;
    a.e2e.decodeMs += s.decodeMs;
    a.e2e.prepMs += s.resizeMs + s.preprocessMs;
    a.e2e.prepCpuMs += s.preprocessCpuMs;
    a.e2e.decoded += s.decoded;
    const rep = stageReport(s);
    console.error(
      `round ${r + 1} ${decode}: model ${((1000 * m.images) / m.ms).toFixed(1)} img/s, end to end ${((1000 * (s.images - s.failed)) / s.wallMs).toFixed(1)} img/s, ` +
        `decode ${rep.decodeCpuMsPerImage?.toFixed(1)} ms CPU/img, limited by ${rep.limitingStage}`,
    );
  }
}
const load1 = os.loadavg();
const summary = Object.fromEntries(
  (['exact', 'fast'] as const).map((d) => {
    const { model: m, e2e: e } = acc[d];
    const modelIps = (1000 * m.images) / m.ms;
    const e2eIps = (1000 * e.images) / e.ms;
    const modelCpuMs = m.cpuMs / m.images;
    const decodeCpuMs = (e.poolCpuMs - e.prepCpuMs) / e.decoded;
    const prepCpuMs = e.prepCpuMs / e.decoded;
    const limit = overlapLimit(os.availableParallelism(), decodeCpuMs, prepCpuMs, modelCpuMs);
    return [
      d,
      {
        modelImagesPerSecond: +modelIps.toFixed(1),
        modelCpuPercent: +((100 * m.cpuMs) / m.ms).toFixed(0),
        endToEndImagesPerSecond: +e2eIps.toFixed(1),
        percentOfModel: +((100 * e2eIps) / modelIps).toFixed(1),
        modelCpuMsPerImage: +modelCpuMs.toFixed(2),
        decodeCpuMsPerImage: +decodeCpuMs.toFixed(2),
        preprocessCpuMsPerImage: +prepCpuMs.toFixed(2),
        overlapLimitImagesPerSecond: limit === null ? null : +limit.toFixed(1),
        percentOfOverlapLimit: limit === null ? null : +((100 * e2eIps) / limit).toFixed(1),
        failedPerPass: e.failed / rounds,
        processCpuPercent: +((100 * e.cpuMs) / e.ms).toFixed(0),
        poolCpuPercent: +((100 * e.poolCpuMs) / e.ms).toFixed(0),
        engineWaitPercent: +((100 * e.waitMs) / e.ms).toFixed(0),
        decodeMsPerImage: +(e.decodeMs / e.decoded).toFixed(1),
        preprocessMsPerImage: +(e.prepMs / e.decoded).toFixed(1),
        inferenceMsPerImage: +(e.inferenceMs / e.images).toFixed(1),
      },
    ];
  }),
);
console.log(
  JSON.stringify(
    { model, backend: choice.label, jpegDecoder: jpegDecoder().label, batchSize, rounds, files: entries.length, decodeThreads: threads, cores: os.availableParallelism(), cpu: os.cpus()[0]?.model, loadAverageStart: load0.map((x) => +x.toFixed(2)), loadAverageEnd: load1.map((x) => +x.toFixed(2)), ...summary },
    null,
    1,
  ),
);
random.dispose();
await pools.exact.close();
await pools.fast.close();
backbone.dispose();
