// The child process that benchmarks one model: load (timed), first inference
// (timed apart), warm-up (untimed), timed runs, CPU and memory over the timed runs,
// and optionally the end-to-end path on real images. Talks to the parent over IPC.
import { performance } from 'node:perf_hooks';
import { tf } from '../tf.js';
import { startEngine } from '../engines/select.js';
import { configureLog } from '../log.js';
import { errorMessage } from '../errors.js';
import { imageSettingsOf, loadForSpec } from '../spec/load.js';
import { ProcessSampler, maxRssByte, startCpuUsage } from '../monitor/process.js';
import { summarize } from './stats.js';
import { MIN_RUNS, MIN_SECONDS, MAX_RUNS, unmeasuredModel, type BatchResult, type BenchWarning, type EndToEndResult, type ModelResult } from './result.js';
import { detectWarnings } from './warnings.js';
import { gflopsPerSecond, imagesPerSecond, overlapLimit } from './metrics.js';
import os from 'node:os';
import type { ParentMessage, ChildConfig, ChildMessage } from './protocol.js';
import type { Backbone } from '../zoo/backbone.js';
import { expandInputs } from '../images/inputs.js';
import { DEFAULT_EXTENSIONS } from '../images/formats.js';
import { runBatches } from '../pipeline/batches.js';
import { startDecodePool } from '../pipeline/decode-pool.js';
import { DEFAULT_PREFETCH_MB, defaultDecodeThreads } from '../pipeline/decode-threads.js';
import { stageReport } from '../pipeline/stages.js';
import { batchIdentity, batchPlanApplies, subBatchSize, writeBatchTable } from '../engines/batch-plan.js';
import { resolveCacheDir } from '../weights/cache.js';



function send(msg: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    // Wait for the message to be handed over: the next inference blocks this thread.
    process.send(msg, undefined, {}, () => resolve());
  });
}

let pendingAck: (() => void) | null = null;
function waitForAck(): Promise<void> {
  return new Promise((resolve) => (pendingAck = resolve));
}

async function timeOne(backbone: Backbone, input: tf.Tensor4D): Promise<number> {
  const t0 = performance.now();
  const out = await backbone.infer(input);
  await out.data(); // wait for the result: GPU backends compute asynchronously
  const ms = performance.now() - t0;
  out.dispose();
  return ms;
}

async function benchBatch(backbone: Backbone, config: ChildConfig, batchSize: number, macs: number | null): Promise<BatchResult> {
  const [h, w] = backbone.info.inputSize;
  // Random pixels in the model's input range: timings do not depend on content.
  const input = tf.tidy(() => tf.randomUniform([batchSize, h, w, 3], -1, 1, 'float32', 7)) as tf.Tensor4D;
  await send({ type: 'progress', message: `batch ${batchSize}: first inference` });
  const firstInferenceMs = await timeOne(backbone, input);
  for (let i = 0; i < config.warmup; i++) await timeOne(backbone, input);
  await send({ type: 'progress', message: `batch ${batchSize}: timed runs` });

  await send({ type: 'window', batchSize, phase: 'start' });
  await waitForAck();
  const sampler = new ProcessSampler({ intervalMs: 50, tfMemory: () => tf.memory() }).start();
  const cpu = startCpuUsage();
  const samplesMs: number[] = [];
  const started = performance.now();
  const fixed = config.iterations;
  const budgetMs = config.durationS !== undefined ? config.durationS * 1000 : MIN_SECONDS * 1000;
  for (;;) {
    const elapsed = performance.now() - started;
    if (fixed !== undefined) {
      if (samplesMs.length >= fixed) break;
    } else if (config.durationS !== undefined) {
      if (samplesMs.length >= 1 && elapsed >= budgetMs) break;
    } else if ((samplesMs.length >= MIN_RUNS && elapsed >= budgetMs) || samplesMs.length >= MAX_RUNS) {
      break;
    }
    samplesMs.push(await timeOne(backbone, input));
    sampler.sample(); // between runs: the timer cannot fire during a synchronous kernel
  }
  const cpuUsage = cpu.stop();
  const memory = sampler.stop();
  await send({ type: 'window', batchSize, phase: 'end' });
  await waitForAck();
  input.dispose();

  const ips = imagesPerSecond(batchSize, samplesMs);
  const result: BatchResult = {
    batchSize,
    firstInferenceMs,
    warmupRuns: config.warmup,
    samplesMs,
    latencyMs: summarize(samplesMs),
    imagesPerSecond: ips,
    gflopsPerSecond: gflopsPerSecond(macs, ips),
    cpu: {
      processPercentOfOneCore: cpuUsage.processPercentOfOneCore,
      cores: cpuUsage.cores,
      systemPercent: cpuUsage.systemPercent,
      userMs: cpuUsage.userMs,
      systemMs: cpuUsage.systemMs,
    },
    memory: {
      rssPeakSampledByte: memory.rssPeakByte,
      maxRssByte: maxRssByte(),
      tfBytes: memory.tfBytesEnd,
      tfTensors: memory.tfTensorsEnd,
    },
    gpu: null, // filled in by the parent, which polls nvidia-smi for this process
    warnings: detectWarnings({ samplesMs, warmupRuns: config.warmup, cpu: cpuUsage }),
  };
  const modelCpuMsPerImage = (cpuUsage.userMs + cpuUsage.systemMs) / Math.max(1, samplesMs.length * batchSize);
  if (config.images) result.endToEnd = await endToEnd(backbone, config, batchSize, ips, modelCpuMsPerImage);
  return result;
}

/**
 * The real overlapped pipeline on the folder: decode pool -> prefetch queue -> engine,
 * as `extract` runs it. An untimed warm-up over two batches starts the pool and sizes
 * the timed run: enough passes over the folder for MIN_SECONDS (or --duration), one
 * pass with --iterations.
 */
async function endToEnd(backbone: Backbone, config: ChildConfig, batchSize: number, modelImagesPerSecond: number, modelCpuMsPerImage: number): Promise<EndToEndResult> {
  const dir = config.images!;
  const entries = (await expandInputs([dir], { extensions: DEFAULT_EXTENSIONS })).filter((e) => !e.error);
  const { spec } = config;
  const settings = imageSettingsOf(spec, backbone.info);
  const threads = spec.run.decodeThreads ?? defaultDecodeThreads();
  const prefetchBytes = (spec.run.prefetchMb ?? DEFAULT_PREFETCH_MB) * 1024 * 1024;
  const compute = async (batch: tf.Tensor4D) => {
    const out = await backbone.infer(batch);
    await out.data(); // wait for the result: GPU backends compute asynchronously
    out.dispose();
    return new Array<number>(batch.shape[0]).fill(0);
  };
  const loader = threads > 0 ? await startDecodePool(threads, settings) : undefined;
  try {
    await send({ type: 'progress', message: `batch ${batchSize}: end to end on ${entries.length} files (${settings.decode}, ${threads} decode thread${threads === 1 ? '' : 's'})` });
    const warm = await runBatches(entries.slice(0, 2 * batchSize), settings, batchSize, compute, () => {}, { loader, prefetchBytes });
    const ok = entries.length;
    const rate = warm.images / Math.max(1e-3, warm.wallMs / 1000);
    const seconds = config.durationS ?? MIN_SECONDS;
    const passes = config.iterations !== undefined ? 1 : Math.max(1, Math.min(100, Math.ceil((seconds * rate) / Math.max(1, ok))));
    const timed = Array.from({ length: passes }, () => entries).flat();
    const cpu = startCpuUsage();
    const s = await runBatches(timed, settings, batchSize, compute, () => {}, { loader, prefetchBytes });
    const cpuUsage = cpu.stop();
    const r = stageReport(s);
    const done = s.images - s.failed;
    if (done === 0) throw new Error(`--images ${dir}: no readable images found.`);
    const ips = done / (s.wallMs / 1000);
    const cores = os.availableParallelism();
    const limit = overlapLimit(cores, r.decodeCpuMsPerImage, r.preprocessCpuMsPerImage, modelCpuMsPerImage);
    return {
      images: done / passes,
      passes,
      failed: s.failed / passes,
      decode: settings.decode!,
      decodeThreads: s.decodeThreads,
      prefetchBudgetByte: s.prefetchBudgetBytes,
      wallMs: s.wallMs,
      imagesPerSecond: ips,
      modelImagesPerSecond,
      percentOfModel: (100 * ips) / modelImagesPerSecond,
      decodeMsPerImage: r.decodeMsPerImage ?? 0,
      preprocessMsPerImage: r.preprocessMsPerImage ?? 0,
      decodeCpuMsPerImage: r.decodeCpuMsPerImage,
      preprocessCpuMsPerImage: r.preprocessCpuMsPerImage,
      modelCpuMsPerImage,
      cores,
      overlapLimitImagesPerSecond: limit,
      percentOfOverlapLimit: limit === null ? null : (100 * ips) / limit,
      inferenceMsPerImage: r.inferenceMsPerImage ?? 0,
      engineWaitPercent: 100 * (r.engineWaitShare ?? 0),
      poolCpuPercentOfOneCore: r.poolCpuPercent,
      processCpuPercentOfOneCore: cpuUsage.processPercentOfOneCore,
      limitingStage: r.limitingStage ?? 'inference',
      prefetchPeakByte: s.peakPrefetchBytes,
      maxRssByte: maxRssByte(),
    };
  } finally {
    await loader?.close();
  }
}

/**
 * Two or more batch sizes measured on ONNX Runtime on a GPU: kept as this model's batch table
 * for this engine, precision and adapter, so classify, extract and serve run a batch that
 * measured slower per image than a smaller one as sub-batches of the faster size.
 */
async function recordBatchTable(backbone: Backbone, config: ChildConfig, runs: BatchResult[]): Promise<void> {
  if (!batchPlanApplies(backbone.currentEngine.choice) || runs.length < 2) return;
  const identity = batchIdentity(backbone.info, backbone.precision, backbone.currentEngine.choice);
  const imagesPerSecond = Object.fromEntries(runs.map((r) => [String(r.batchSize), r.imagesPerSecond]));
  const file = await writeBatchTable(resolveCacheDir(config.spec.cacheDir), { identity, imagesPerSecond, measuredAt: new Date().toISOString(), loadAverage: Math.round(os.loadavg()[0]! * 100) / 100 });
  const largest = Math.max(...runs.map((r) => r.batchSize));
  const size = subBatchSize(imagesPerSecond, largest);
  const rate = (b: number) => `${imagesPerSecond[String(b)]!.toFixed(1)} img/s`;
  await send({
    type: 'progress',
    message:
      size < largest
        ? `batch ${largest} is slower per image than batch ${size} here (${rate(largest)} vs ${rate(size)}): classify, extract and serve will run larger batches as sub-batches of ${size} (recorded in ${file})`
        : `batch sizes recorded in ${file}`,
  });
}

async function run(config: ChildConfig): Promise<void> {
  const { spec } = config;
  const partial: ModelResult = unmeasuredModel(config.model, spec.weights);
  try {
    const engine = await startEngine(spec.engine);
    const choice = engine.choice;
    await send({
      type: 'runtime',
      backend: choice.backend,
      label: choice.label,
      threads: choice.threads,
      tfjs: choice.tfjsVersion,
      backendVersion: choice.attempts.find((a) => a.status === 'available')?.version,
      device: choice.device,
      provider: choice.provider,
      adapter: choice.adapter,
    });
    Object.assign(partial, { device: choice.device, provider: choice.provider, adapter: choice.adapter });
    await send({ type: 'progress', message: `loading (${spec.source === 'zoo' ? spec.weights : "the model's own"} weights)` });
    const t0 = performance.now();
    // bench measures each batch size as it is: never split into a measured best size.
    const backbone = await loadForSpec(spec, engine, { allowDownload: false, splitBatches: false });
    // With ONNX Runtime the export and session creation are part of loading; its own
    // copy of the weights then replaces the tfjs one, so memory counts one copy.
    await backbone.prepare();
    backbone.releaseTfjsWeights();
    partial.loadMs = performance.now() - t0;
    partial.backend = backbone.engineName;
    // A model ONNX Runtime could not take fell back to TensorFlow.js: say where it really ran.
    const ran = backbone.currentEngine.choice;
    Object.assign(partial, { device: ran.device, provider: ran.provider, adapter: ran.adapter });
    if (backbone.engineName === 'onnx') partial.precision = backbone.precision;
    partial.rssAfterLoadByte = process.memoryUsage.rss();
    partial.parameters = backbone.info.parameters;
    partial.macsPerImage = backbone.info.macs;
    partial.weights = backbone.info.weights.kind === 'model' ? config.model : backbone.info.weights.kind;
    const warnings: BenchWarning[] = backbone.info.weights.kind === 'random' ? [{ kind: 'random-weights', model: config.model }] : [];
    partial.warnings = warnings;
    for (const batchSize of config.batchSizes) {
      partial.runs.push(await benchBatch(backbone, config, batchSize, backbone.info.macs));
    }
    await recordBatchTable(backbone, config, partial.runs);
    backbone.dispose();
    await send({ type: 'result', result: { ...partial, status: 'ok' } });
  } catch (e) {
    await send({ type: 'failed', error: errorMessage(e), partial: { ...partial, error: errorMessage(e) } });
  }
}

// Entry: the parent sends {type:'config'}; window acks resume timed runs; 'exit' ends.
configureLog({ quiet: true });
process.on('message', (msg: ParentMessage) => {
  if (msg.type === 'config') {
    void run(msg.config);
  } else if (msg.type === 'window-ack') {
    const ack = pendingAck;
    pendingAck = null;
    ack?.();
  } else if (msg.type === 'exit') {
    process.disconnect?.();
    process.exit(0);
  }
});
void send({ type: 'ready', pid: process.pid });
