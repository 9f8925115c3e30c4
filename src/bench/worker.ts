// The child process that benchmarks one model: load (timed), first inference
// (timed apart), warm-up (untimed), timed runs, CPU and memory over the timed runs,
// and optionally the end-to-end path on real images. Talks to the parent over IPC.
import { performance } from 'node:perf_hooks';
import { tf } from '../runtime/tf.js';
import { initBackend, parseBackendRequest } from '../runtime/backend.js';
import { configureLog } from '../log.js';
import { errorMessage } from '../errors.js';
import { loadBackbone } from '../zoo/load.js';
import { findCard } from '../zoo/load.js';
import { isCached } from '../weights/cache.js';
import { resolveCacheDir } from '../weights/cache.js';
import { ProcessSampler, maxRssByte, startCpuUsage } from '../monitor/process.js';
import { summarize } from './stats.js';
import { MIN_RUNS, MIN_SECONDS, MAX_RUNS, detectWarnings, gflopsPerSecond, imagesPerSecond, unmeasuredModel, type BatchResult, type BenchWarning, type ModelResult } from './result.js';
import type { ParentMessage, WorkerConfig, WorkerMessage } from './protocol.js';
import type { Backbone } from '../zoo/backbone.js';
import { expandInputs } from '../pipeline/inputs.js';
import { loadImageForModel } from '../images/index.js';
import { DEFAULT_EXTENSIONS } from '../images/formats.js';



function send(msg: WorkerMessage): Promise<void> {
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

/** Which weights to use: as forced, else imagenet when cached (no download), else random. */
async function chooseWeights(config: WorkerConfig): Promise<string> {
  if (config.weights) return config.weights;
  const card = findCard(config.model);
  if (!card) return 'imagenet'; // a model file carries its own weights
  const cacheDir = resolveCacheDir(config.cacheDir);
  for (const w of card.weights) if (w.includeTop && (await isCached(card.name, w, cacheDir))) return 'imagenet';
  return 'random';
}

async function timeOne(backbone: Backbone, input: tf.Tensor4D): Promise<number> {
  const t0 = performance.now();
  const out = await backbone.infer(input);
  await out.data(); // wait for the result: GPU backends compute asynchronously
  const ms = performance.now() - t0;
  out.dispose();
  return ms;
}

async function benchBatch(backbone: Backbone, config: WorkerConfig, batchSize: number, macs: number | null): Promise<BatchResult> {
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
  if (config.images) result.endToEnd = await endToEnd(backbone, config.images, batchSize);
  return result;
}

/** Decode → preprocess → inference on real files, one batch at a time, stage by stage. */
async function endToEnd(backbone: Backbone, dir: string, batchSize: number): Promise<NonNullable<BatchResult['endToEnd']>> {
  const entries = (await expandInputs([dir], { extensions: DEFAULT_EXTENSIONS })).filter((e) => !e.error);
  const info = backbone.info;
  const [h, w] = info.inputSize;
  let decodeMs = 0;
  let preprocessMs = 0;
  let inferenceMs = 0;
  let images = 0;
  for (let start = 0; start < entries.length; start += batchSize) {
    const inputs: Float32Array[] = [];
    for (const e of entries.slice(start, start + batchSize)) {
      try {
        const img = await loadImageForModel(e.path, { size: info.inputSize, preprocess: info.preprocess, resize: info.resize, interpolation: info.interpolation });
        decodeMs += img.timings.decodeMs;
        preprocessMs += img.timings.resizeMs + img.timings.preprocessMs;
        inputs.push(img.input);
      } catch {
        // unreadable files are not part of the end-to-end figure
      }
    }
    if (inputs.length === 0) continue;
    const data = new Float32Array(inputs.length * h * w * 3);
    inputs.forEach((x, i) => data.set(x, i * h * w * 3));
    const batch = tf.tensor4d(data, [inputs.length, h, w, 3]);
    inferenceMs += await timeOne(backbone, batch);
    batch.dispose();
    images += inputs.length;
  }
  if (images === 0) throw new Error(`--images ${dir}: no readable images found.`);
  return { images, decodeMsPerImage: decodeMs / images, preprocessMsPerImage: preprocessMs / images, inferenceMsPerImage: inferenceMs / images };
}

async function run(config: WorkerConfig): Promise<void> {
  const partial: ModelResult = unmeasuredModel(config.model, config.weights ?? 'imagenet');
  try {
    const choice = await initBackend(parseBackendRequest(config.backend), { threads: config.threads });
    await send({ type: 'runtime', backend: choice.backend, label: choice.label, threads: choice.threads, tfjs: choice.tfjsVersion, backendVersion: choice.attempts.find((a) => a.status === 'available')?.version });
    const weights = await chooseWeights(config);
    partial.weights = weights;
    await send({ type: 'progress', message: `loading (${weights} weights)` });
    const t0 = performance.now();
    const backbone = await loadBackbone(config.model, {
      weights: findCard(config.model) ? weights : undefined,
      alpha: config.alpha,
      inputSize: config.inputSize,
      preprocess: config.preprocess,
      labels: config.labels,
      labelOffset: config.labelOffset,
      seed: config.seed,
      cacheDir: config.cacheDir,
      allowDownload: false,
      precision: config.precision,
      calibrate: config.calibrate,
      int8Model: config.int8Model,
    });
    // With ONNX Runtime the export and session creation are part of loading; its own
    // copy of the weights then replaces the tfjs one, so memory counts one copy.
    await backbone.prepare();
    backbone.releaseTfjsWeights();
    partial.loadMs = performance.now() - t0;
    partial.backend = backbone.engineName;
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
