// The run spec: everything that decides what a run computes (model and weights identity,
// task, image handling, precision) and how (engine request, counts), resolved once from
// the options, the environment, the model card and the defaults by resolveSpec, the one
// function every entry point calls (classify/extract, queue add, serve, the bench
// parent, quantize, the library; the queue worker, the --workers model threads, serve's inference
// thread and the bench child receive the resolved spec as data). Every check on the
// options runs here, before a backend starts, a file is written, a port is listened on
// or a job is enqueued: each failure is one sentence and a usage error (exit 2), unless
// it is about the machine (exit 1). What can only be checked against the loaded model
// (layer names, a model file's classes) is checked by loadForSpec (load.ts), right after
// loading and before any output is opened.
import os from 'node:os';
import { existsSync, statSync } from 'node:fs';
import { BackbonesError, usageError } from '../errors.js';
import { parseColour } from '../images/colour.js';
import { resolveRequest, type ResolvedRequest } from '../engines/request.js';
import { parseProviderList, providerLibraryInstalled, PROVIDER_LIBRARIES, ortLibraryDir } from '../engines/devices.js';
import { backendRuns, PRECISIONS, precisionRequestRefusal, type Precision } from '../onnx/precision.js';
import { GPU_PROVIDERS } from '../engines/devices.js';
import type { ModelCard } from '../zoo/card.js';
import { resolveModel } from '../zoo/registry.js';
import { readLabelsFile } from '../zoo/labels.js';
import { ALPHAS } from '../zoo/widths.js';
import { checkImagenetVariant, imagenetCached } from '../weights/resolve.js';
import { resolveCacheDir } from '../weights/cache.js';
import { bytesIdentity, fileIdentity } from './identity.js';
import { isUrl } from '../weights/download.js';
import { networkFields, differences } from './fingerprint.js';
import type { RunSpec, SpecOptions, SpecTask } from './types.js';

export type { RunSpec, SpecOptions, SpecTask } from './types.js';

/** What the entry point is resolving for. */
export interface SpecPurpose {
  task?: 'classify' | 'extract';
  /** bench: without --weights, imagenet when cached, else random. */
  weightsDefault?: 'imagenet' | 'cached-or-random';
  /** serve: the default layer is part of the spec (warmed up, in its metadata). */
  defaultLayer?: boolean;
  /** The flag and values of the batch sizes (default --batch-size). */
  batch?: { flag: string; sizes: number[] };
}

export const DEFAULT_MODEL = 'mobilenet';
export const DEFAULT_BATCH_SIZE = 8;

const GB = 1024 ** 3;
const gb = (bytes: number) => `${(bytes / GB).toFixed(1)} GB`;

/** Counts the machine can use: more only adds memory and contention. */
export function machineBounds(cores = os.availableParallelism(), memory = os.totalmem()) {
  return {
    cores,
    memory,
    /** Threads of any kind (decode, ONNX Runtime intra-op, --workers): two per core. */
    threads: 2 * cores,
    /** The input tensor of one batch may take a quarter of the memory (activations need the rest). */
    batchBytes: memory / 4,
  };
}

function checkCount(flag: string, value: number | undefined, most: number, why: string): void {
  if (value !== undefined && value > most) throw usageError(`${flag} ${value} is more than this machine can use: ${why}, so at most ${most}.`);
}

function checkCounts(o: SpecOptions, card: ModelCard | undefined, inputSize: [number, number] | undefined, purpose: SpecPurpose): void {
  const m = machineBounds();
  const perCore = `it has ${m.cores} core${m.cores === 1 ? '' : 's'} and more than 2 threads per core only add memory and contention`;
  checkCount('--decode-threads', o.decodeThreads, m.threads, perCore);
  checkCount('--workers', o.workers, m.threads, perCore);
  if (o.workers !== undefined && card) {
    // Each model thread holds its own copy of the weights, twice while the engine takes them over.
    const perThread = card.parameters * 4 * 2;
    checkCount('--workers', o.workers, Math.max(1, Math.floor(m.memory / 2 / perThread)), `each holds a copy of ${card.name} (${gb(perThread)} while loading) and this machine has ${gb(m.memory)} of memory`);
  }
  if (o.prefetchMb !== undefined && o.prefetchMb * 1024 * 1024 > m.memory / 2) {
    throw usageError(`--prefetch-mb ${o.prefetchMb} is more than this machine can hold ahead of the engine: it has ${gb(m.memory)} of memory, so at most ${Math.floor(m.memory / 2 / 1024 / 1024)}.`);
  }
  const batch = purpose.batch ?? { flag: '--batch-size', sizes: o.batchSize === undefined ? [] : [o.batchSize] };
  if (inputSize) {
    const perImage = inputSize[0] * inputSize[1] * 3 * 4;
    const most = Math.max(1, Math.floor(m.batchBytes / perImage));
    for (const n of batch.sizes) {
      checkCount(batch.flag, n, most, `a batch of ${inputSize.join('x')} images takes ${gb(n * perImage)} for its input alone and this machine has ${gb(m.memory)} of memory`);
    }
  }
}

/** --alpha: MobileNets only, at a width Keras publishes. */
function checkAlpha(alpha: number | undefined, card: ModelCard | undefined, model: string): void {
  if (alpha === undefined) return;
  if (!card) throw usageError(`--alpha applies to zoo MobileNets; ${model} is a model file with its own width.`);
  const widths = ALPHAS[card.architecture];
  if (!widths || card.architectureOptions?.alpha === undefined) throw usageError(`--alpha only applies to MobileNets; ${card.name} has no width multiplier.`);
  if (!widths.includes(alpha)) throw usageError(`--alpha ${alpha} is not a width ${card.architecture} is built at: use ${widths.map((w) => (Number.isInteger(w) ? w.toFixed(1) : String(w))).join(', ')}.`);
}

async function checkBackground(css: string): Promise<string> {
  try {
    const [r, g, b] = await parseColour(css);
    return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  } catch {
    throw usageError(`--background ${JSON.stringify(css)} is not a colour: use a CSS colour name (white), #rrggbb or rgb(r, g, b).`);
  }
}

/** --provider: every name one the installed onnxruntime-node lists, and its library there (cuda, tensorrt). */
async function checkProviders(providers: string[] | undefined): Promise<void> {
  if (!providers) return;
  const { loadOrt } = await import('../onnx/ort.js');
  const listed = (await loadOrt()).listSupportedBackends().map((b) => b.name);
  const unknown = providers.filter((p) => !listed.includes(p));
  if (unknown.length > 0) throw usageError(`ONNX Runtime execution provider '${unknown[0]}' is not available. This onnxruntime-node lists: ${listed.join(', ')}`);
  const missing = providers.find((p) => !providerLibraryInstalled(p));
  if (missing) {
    throw usageError(
      `--provider ${missing}: ONNX Runtime's ${missing} provider is not installed (no ${PROVIDER_LIBRARIES[missing]} in ${ortLibraryDir() ?? 'onnxruntime-node'}); ` +
        `install it with \`node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install=cuda12\`, or leave ${missing} out of --provider.`,
    );
  }
}

/** --labels: readable, and one label per class of a zoo model (a model file's classes are checked once loaded). */
async function checkLabels(o: SpecOptions, card: ModelCard | undefined, labelOffset: number): Promise<string | undefined> {
  if (o.labels === undefined) return card ? 'imagenet' : undefined;
  const labels = await readLabelsFile(o.labels);
  if (card && labels.length !== card.numClasses - labelOffset) {
    throw usageError(`--labels ${o.labels} has ${labels.length} label${labels.length === 1 ? '' : 's'}; ${card.name} has ${card.numClasses - labelOffset} classes${labelOffset ? ` after --label-offset ${labelOffset}` : ''}.`);
  }
  return fileIdentity(o.labels, '--labels');
}

function resolvePrecision(o: SpecOptions): Precision {
  const int8Source = o.calibrate !== undefined || o.int8Model !== undefined;
  if (o.precision !== undefined && !PRECISIONS.includes(o.precision)) throw usageError(`Unknown --precision "${o.precision}": valid precisions are ${PRECISIONS.join(', ')}.`);
  if (o.precision !== undefined && o.precision !== 'int8' && int8Source) throw usageError(`--calibrate and --int8-model are for --precision int8, not ${o.precision}.`);
  return o.precision ?? (int8Source ? 'int8' : 'fp32');
}

/** A folder of images named by a flag (--calibrate, --evaluate): it must be a readable folder. */
export function checkFolder(dir: string, flag: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw usageError(`${flag} ${dir}: cannot read the folder (${(e as Error).message}).`);
  }
  if (!isDir) throw usageError(`${flag} takes a folder of images; ${dir} is not a folder.`);
}

/**
 * --int8-model: an int8 model made by `backbones quantize` from this very network (its
 * metadata says what it was made from), with the layer the run reads. Returns its identity.
 */
async function checkInt8Model(file: string, spec: Pick<RunSpec, 'model' | 'source' | 'identity' | 'alpha' | 'inputSize' | 'task' | 'defaultLayer'>): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const q = await import('../onnx/quantize/index.js');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new BackbonesError('E_NOT_FOUND', `--int8-model ${file}: cannot read it (${(e as Error).message}).`);
  }
  let described;
  try {
    described = q.describeInt8(bytes);
  } catch (e) {
    throw usageError(`--int8-model ${file} is not an ONNX model (${(e as Error).message}).`);
  }
  if (!described.int8) throw usageError(`--int8-model ${file} is not an int8 model made by \`backbones quantize\`.`);
  if (described.source) {
    const wanted = networkFields(spec as RunSpec);
    // A model file may be named by another path: its weights identity (a hash) says which network it is.
    if (spec.source === 'file') delete wanted.model;
    const recorded = Object.fromEntries(Object.keys(wanted).map((k) => [k, described.source![k] ?? '(none)']));
    const diff = differences(recorded, wanted);
    if (diff.length > 0) {
      throw usageError(
        `--int8-model ${file} was made from ${describeNetwork(described.source)}, not from this run's ${describeNetwork(wanted)}; make one with \`backbones quantize -m ${spec.model} --calibrate DIR -o FILE\`.`,
      );
    }
  }
  const layer = spec.task?.kind === 'extract' ? spec.task.layer : spec.defaultLayer;
  if (layer && !described.outputs.includes(layer)) throw q.missingOutputError(file, spec.model, [layer], described.outputs);
  return bytesIdentity(bytes);
}

function describeNetwork(fields: Record<string, string>): string {
  const { model, weights, ...rest } = fields;
  const extra = Object.entries(rest).map(([k, v]) => `${k} ${v}`);
  return `${model ?? 'the model'} (weights ${weights ?? 'unknown'}${extra.length ? `, ${extra.join(', ')}` : ''})`;
}

/**
 * The engine request of a run (or of a queue worker, which takes its jobs' specs but runs
 * its own engine), checked: contradictions, providers the installed onnxruntime-node has, threads.
 */
export async function resolveEngine(o: Pick<SpecOptions, 'backend' | 'device' | 'provider' | 'threads'>): Promise<ResolvedRequest> {
  const engine = resolveRequest({ backend: o.backend, device: o.device, threads: o.threads, ...(o.provider !== undefined ? { providers: parseProviderList(o.provider) ?? [] } : {}) });
  const m = machineBounds();
  checkCount('--threads', o.threads, m.threads, `it has ${m.cores} core${m.cores === 1 ? '' : 's'} and more than 2 threads per core only add memory and contention`);
  await checkProviders(engine.providers);
  return engine;
}

/** Resolves and checks the options of a run; nothing is started or written. */
export async function resolveSpec(o: SpecOptions, purpose: SpecPurpose = {}): Promise<RunSpec> {
  const asked = o.model ?? DEFAULT_MODEL;
  const resolved = resolveModel(asked);
  const card = 'card' in resolved ? resolved.card : undefined;
  const model = card ? card.name : asked;
  const source = card ? 'zoo' : 'file';
  if (!card && !isUrl(asked) && !existsSync(asked)) throw new BackbonesError('E_NOT_FOUND', `Model not found: ${asked}`);

  // Weights: a model file carries its own; a zoo model takes imagenet, random or a file.
  const cacheDir = o.cacheDir;
  let weights = o.weights ?? (purpose.weightsDefault === 'cached-or-random' && card ? ((await imagenetCached(card, resolveCacheDir(cacheDir))) ? 'imagenet' : 'random') : 'imagenet');
  if (!card && weights !== 'imagenet') throw usageError(`--weights applies to zoo models; ${asked} carries its own weights.`);
  checkAlpha(o.alpha, card, asked);
  if (card && weights === 'imagenet') checkImagenetVariant(card, o);
  if (card && weights !== 'imagenet' && weights !== 'random' && !isUrl(weights) && !existsSync(weights)) throw new BackbonesError('E_NOT_FOUND', `Weights file not found: ${weights}`);
  const seed = o.seed ?? 42;
  const identityWeights = !card
    ? await fileIdentity(asked, '-m')
    : weights === 'imagenet'
      ? 'imagenet'
      : weights === 'random'
        ? `random seed ${seed}`
        : await fileIdentity(weights, '--weights');
  if (!card) weights = 'imagenet';

  const inputSize = o.inputSize ?? card?.inputSize;
  const labelOffset = o.labelOffset ?? 0;
  const labelsIdentity = await checkLabels(o, card, labelOffset);

  // The task, and serve's default layer.
  let task: SpecTask | undefined;
  if (purpose.task === 'classify') task = { kind: 'classify', topK: o.topK ?? 5 };
  if (purpose.task === 'extract') {
    const layer = o.layer ?? card?.featureLayer;
    if (!layer) throw usageError(`${asked} has no default feature layer: pass --layer (see \`backbones models info ${asked} --layers\`).`);
    task = { kind: 'extract', layer, pool: o.pool ?? 'none', l2: Boolean(o.l2) };
  }
  const defaultLayer = purpose.defaultLayer ? (o.layer ?? card?.featureLayer) : undefined;

  // Images.
  const decode = o.decode ?? 'exact';
  if (decode === 'fast' && o.kerasCompat) throw usageError("--decode fast cannot be combined with --keras-compat, which reproduces Keras' full decode exactly.");
  const background = o.background ?? 'white';
  const image = {
    resize: o.resize ?? card?.resize ?? 'squash',
    interpolation: o.interpolation ?? card?.interpolation ?? 'bilinear',
    background,
    backgroundRgb: await checkBackground(background),
    kerasCompat: Boolean(o.kerasCompat),
    decode,
  };

  // The engine, then the precision it must run.
  const engine = await resolveEngine(o);
  const precision = resolvePrecision(o);
  const backend = engine.providers ? 'onnx' : engine.backend;
  if (!backendRuns(precision, backend)) {
    throw usageError(`--precision ${precision} runs on the onnx engine, and --backend ${backend} was asked for; use --backend onnx (or auto).`);
  }
  // A precision that needs a GPU (fp16), asked with --device cpu or CPU-only providers.
  const gpuRefusal = precisionRequestRefusal(precision, engine, GPU_PROVIDERS);
  if (gpuRefusal) throw usageError(`${gpuRefusal}.`);
  if (o.calibrate !== undefined) checkFolder(o.calibrate, '--calibrate');

  checkCounts(o, card, inputSize, purpose);

  const spec: RunSpec = {
    model,
    source,
    weights,
    seed,
    ...(o.alpha !== undefined ? { alpha: o.alpha } : {}),
    ...(inputSize ? { inputSize } : {}),
    ...((o.preprocess ?? card?.preprocess) ? { preprocess: o.preprocess ?? card?.preprocess } : {}),
    ...(o.labels !== undefined ? { labels: o.labels } : {}),
    labelOffset,
    identity: { weights: identityWeights, ...(labelsIdentity ? { labels: labelsIdentity } : {}) },
    ...(task ? { task } : {}),
    ...(defaultLayer ? { defaultLayer } : {}),
    image,
    precision,
    ...(precision === 'int8' ? { int8: { ...(o.calibrate !== undefined ? { calibrate: o.calibrate } : {}), ...(o.int8Model !== undefined ? { int8Model: o.int8Model } : {}) } } : {}),
    engine,
    run: {
      batchSize: o.batchSize ?? DEFAULT_BATCH_SIZE,
      workers: o.workers ?? 1,
      ...(o.decodeThreads !== undefined ? { decodeThreads: o.decodeThreads } : {}),
      ...(o.prefetchMb !== undefined ? { prefetchMb: o.prefetchMb } : {}),
    },
    ...(cacheDir !== undefined ? { cacheDir } : {}),
  };
  if (o.int8Model !== undefined && precision === 'int8') spec.identity.int8 = await checkInt8Model(o.int8Model, spec);
  return spec;
}
