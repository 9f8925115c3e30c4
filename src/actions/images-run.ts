// What classify and extract share: backend, model, inputs, resume, output writer,
// progress bar, and the final summary and exit code.
import { performance } from 'node:perf_hooks';
import { tf } from '../tf.js';
import { startEngine, engineLine } from '../engines/select.js';
import { engineRequest } from '../engines/request.js';
import { BackbonesError, EXIT } from '../errors.js';
import { log, progressEnabled, colorLevelFor } from '../log.js';
import { loadBackbone, modelSelection, type ModelSelection } from '../zoo/load.js';
import { resolvePrecision } from '../zoo/int8.js';
import { checkPrecisionOnEngine, checkPrecisionRequest } from '../zoo/precision.js';
import { resolveModel } from '../zoo/registry.js';
import type { Backbone } from '../zoo/backbone.js';
import { expandInputs, parseExtensions, type InputEntry } from '../images/inputs.js';
import { emptyPipelineStats, runBatches, type ImageSettings } from '../pipeline/batches.js';
import { checkImageHandling, imageSettings, type ImageHandlingOptions } from '../pipeline/decode-one.js';
import { startDecodePool } from '../pipeline/decode-pool.js';
import { DEFAULT_PREFETCH_MB, defaultDecodeThreads, engineOnGpu } from '../pipeline/decode-threads.js';
import { stageLine, stageReport } from '../pipeline/stages.js';
import { checkOutput, writerFor, formatFromExtension, outputFiles, resumeReaderFor, type ResumeState } from '../output/index.js';
import { stdoutSink } from '../output/sink.js';
import { checkOutputFile, outputTarget, stageForAppend, StagedFiles } from '../output/staged.js';
import { fileSink } from '../output/sink.js';
import { acquireOutputLock, type OutputLock } from '../output/lock.js';
import { RunProgress } from './progress.js';
import type { RecordKind } from '../output/records.js';
import { computeFor, recordFor, type Task, type TaskResult } from '../tasks/task.js';
import { assertFinite, resultValues } from '../tasks/finite.js';
import { loadRequest, runInWorkers } from '../pipeline/pool.js';
import type { RunStore, StoreRunOptions } from './store-run.js';

export interface ImageRunOptions extends ModelSelection, ImageHandlingOptions, Omit<StoreRunOptions, 'batchSize'> {
  backend: string;
  device?: string;
  provider?: string;
  threads?: number;
  model: string;
  ext: string;
  batchSize: number;
  output?: string;
  resume?: boolean;
  format?: string;
  /** Worker threads, each with its own backend instance and model copy. */
  workers?: number;
  /** Decode-pool threads; undefined: defaultDecodeThreads() for the engine; 0: the main thread. */
  decodeThreads?: number;
  /** Prefetch memory budget, MiB (default DEFAULT_PREFETCH_MB). */
  prefetchMb?: number;
  /** Report stage times and the limiting stage. */
  verbose?: boolean;
}

export interface Prepared {
  backbone: Backbone;
  entries: InputEntry[];
  skipped: number;
  settings: ImageSettings;
  format: string;
  /** What --resume found in the output file (undefined without --resume). */
  resume?: ResumeState;
  /** The lock on -o FILE, held until the run ends. */
  lock?: OutputLock;
  /** Where -o really writes (a symlink followed; a device or FIFO in place). */
  target?: { path: string; special: boolean };
  /** --to redis://…: the feature store the run writes to instead of a file. */
  store?: RunStore;
  /** The engine computes on a GPU (sizes the decode pool). */
  engineOnGpu: boolean;
}

/** Nothing to run: the exit code and why (already told on stderr). */
export interface NothingToDo {
  exitCode: number;
}

/** How to load the model again, in this thread or a worker. */
/** Every check on the options that needs neither the model nor the inputs: done before anything is touched. */
function checkOptions(o: ImageRunOptions, kind: RecordKind, format: string): void {
  resolveModel(o.model); // an unknown name fails before a backend starts or a file is touched
  if (o.resume && !o.output && !o.to) throw new BackbonesError('E_USAGE', '--resume needs -o FILE or --to redis://…: it skips the inputs already there.');
  // A device or FIFO (-o /dev/stdout) is streamed in place, so only formats written front to back.
  const special = o.output !== undefined && outputTarget(o.output).special;
  checkOutput(format, kind, { output: o.output, special, resume: Boolean(o.resume && !o.to) });
  parseExtensions(o.ext);
  checkImageHandling(o);
  checkPrecisionRequest(o);
  if (o.output && !special) checkOutputFile(o.output);
}

export async function prepareRun(inputs: string[], o: ImageRunOptions, kind: RecordKind, defaultFormat: string): Promise<Prepared | NothingToDo> {
  const format = o.format ?? formatFromExtension(o.output) ?? defaultFormat;
  checkOptions(o, kind, format);
  // The store connects before anything else: an unreachable server fails at once.
  const store = o.to ? await (await import('./store-run.js')).openRunStore(o) : undefined;
  // From here on the output file is ours until the run ends: a second run is refused at once.
  const target = o.output ? outputTarget(o.output) : undefined;
  const lock = target && !target.special ? acquireOutputLock(target.path) : undefined;
  try {
    // The backend first: a backend that cannot start is a setup error, whatever the inputs.
    const engine = await startEngine(engineRequest(o));
    log.info(`backend: ${engineLine(engine.choice)}`);
    checkPrecisionOnEngine(resolvePrecision(o), engine);
    const extensions = parseExtensions(o.ext);
    let entries = await expandInputs(inputs, { extensions });
    if (entries.length === 0) {
      log.warn(`No images to process in ${inputs.join(', ')} (looked for ${extensions.map((e) => `.${e}`).join(', ')}; --ext changes that); nothing was written.`, { evenQuiet: true });
      lock?.release();
      return { exitCode: EXIT.noInputs };
    }
    let skipped = 0;
    let resume: ResumeState | undefined;
    if (o.resume && target) {
      resume = resumeReaderFor(format)(target.path);
      const before = entries.length;
      entries = entries.filter((e) => !resume!.done.has(e.path));
      skipped = before - entries.length;
      if (skipped > 0) log.info(`Resuming: ${skipped} input${skipped === 1 ? '' : 's'} already in ${resume.files[0]?.source ?? o.output}.`);
      if (entries.length === 0 && !resume.fromPartial) {
        log.info(`Nothing left to do: every input is already in ${o.output}.`);
        lock?.release();
        return { exitCode: EXIT.ok };
      }
    }
    const t0 = performance.now();
    const backbone = await loadBackbone(o.model, { ...modelSelection(o), engine });
    const info = backbone.info;
    const precision = resolvePrecision(o);
    log.info(`model: ${info.name} ${info.inputSize.join('x')}${precision !== 'fp32' ? `, ${precision}` : ''}, preprocess ${info.preprocess}, weights ${info.weights.description} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    if (info.weights.kind === 'random') log.warn('random weights: outputs are not meaningful predictions.');
    const plan = await backbone.batchPlan(o.batchSize);
    if (plan) {
      const ips = (b: number) => `${plan.table.imagesPerSecond[String(b)]!.toFixed(1)} img/s`;
      const largest = Math.max(...Object.keys(plan.table.imagesPerSecond).map(Number).filter((b) => b <= o.batchSize));
      log.info(
        `batch ${o.batchSize} runs as sub-batches of ${plan.size}: on this engine and adapter batch ${plan.size} measured ${ips(plan.size)}, batch ${largest} ${ips(largest)} ` +
          `(${plan.table.measuredAt.slice(0, 10)}, ${plan.table.file}; \`backbones bench\` with --batch-sizes measures again)`,
      );
    }
    const settings = imageSettings(info, o);
    return { backbone, entries, skipped, settings, format, resume, lock, target, store, engineOnGpu: engineOnGpu(engine.choice) };
  } catch (e) {
    lock?.release();
    throw e;
  }
}

/** Ends a prepared run that will not execute (a check after loading failed). */
export function abandonRun(prepared: Prepared): void {
  prepared.backbone.dispose();
  prepared.lock?.release();
}

/** Runs the task over every entry, writing one record per input in order; returns the exit code. */
export async function executeRun(prepared: Prepared, o: ImageRunOptions, task: Task): Promise<number> {
  try {
    return await execute(prepared, o, task);
  } finally {
    prepared.lock?.release();
  }
}

async function execute(prepared: Prepared, o: ImageRunOptions, task: Task): Promise<number> {
  const kind: RecordKind = task.kind;
  const model = prepared.backbone.name;
  // int8 and fp16 setup (calibration, a missing int8 model, an fp16 export ONNX Runtime refuses) fails the run before
  // any output is opened, not image by image; with --workers it also calibrates or exports once here, and the
  // workers find the result in the cache.
  if (resolvePrecision(o) !== 'fp32') await prepared.backbone.prepare(task.kind === 'extract' ? [task.layer] : []);
  // Before entries are read: --resume against the store filters them.
  const storeWriter = await prepared.store?.begin(prepared, task);
  const { entries, settings, format, resume, target } = prepared;
  // A file output is written to FILE.partial and renamed over FILE at the end.
  const staged = target && !target.special ? new StagedFiles(outputFiles(format, target.path)) : undefined;
  const appending = Boolean(resume && resume.files.length > 0);
  if (appending) for (const f of resume!.files) stageForAppend(f.file, f.source, f.keepBytes);
  const sink = staged && target ? staged.open(target.path, { append: appending }) : target ? fileSink(target.path) : stdoutSink();
  const toTerminal = !o.output && Boolean(process.stdout.isTTY);
  const colour = !o.output && colorLevelFor(process.stdout) > 0;
  const writer = storeWriter ?? writerFor(format)(sink, { kind, colour, appending, resumed: resume, file: target?.path, open: staged ? (f, opts) => staged.open(f, opts) : undefined });
  const pipeline = emptyPipelineStats();
  // --verbose: the stage that limits the run, on the bar (or every few seconds without one).
  const limit = () => {
    const stage = o.verbose ? stageReport(pipeline).limitingStage : undefined;
    return stage ? ` | limited by ${stage}` : '';
  };
  const progress = new RunProgress(entries.length, progressEnabled() && entries.length > 1, process.stderr, limit);
  const started = performance.now();
  const ticker = o.verbose && !progress.visible ? setInterval(() => log.info(`${progress.line()}${limit()}`), 5000) : undefined;
  ticker?.unref();
  const tensorsBefore = tf.memory().numTensors;
  const onItem = (item: { path: string; error?: string }, result: TaskResult | undefined) => {
    if (result === undefined) {
      const error = item.error ?? 'no result';
      // A failed input is an error for that input: shown even with --quiet.
      log.error(`${item.path}: ${error}`);
      write({ path: item.path, error });
    } else {
      assertFinite(model, item.path, resultValues(result));
      write(recordFor(task, model, item.path, result));
    }
    progress.tick();
  };
  const write = (record: Parameters<typeof writer.write>[0]) => (toTerminal ? progress.interrupt(() => writer.write(record)) : writer.write(record));
  const workers = o.workers ?? 1;
  const prefetchBytes = (o.prefetchMb ?? DEFAULT_PREFETCH_MB) * 1024 * 1024;
  let stats;
  try {
    if (workers > 1) {
      // Each worker thread loads its own copy; this thread's copy was only needed to check the options.
      prepared.backbone.dispose();
      stats = await runInWorkers(entries, { workers, batchSize: o.batchSize, settings, task, load: loadRequest(o), prefetchBytes: prefetchBytes / workers }, onItem);
    } else {
      // The decode pool: worth its start-up only with two images or more.
      const decodable = entries.filter((e) => !e.error).length;
      const threads = decodable < 2 ? 0 : (o.decodeThreads ?? defaultDecodeThreads(prepared.engineOnGpu));
      const loader = threads > 0 ? await startDecodePool(threads, settings) : undefined;
      try {
        stats = await runBatches(entries, settings, o.batchSize, computeFor(task, prepared.backbone), onItem, { loader, prefetchBytes, stats: pipeline });
      } finally {
        await loader?.close();
      }
    }
    if (ticker) clearInterval(ticker);
    progress.stop();
    await writer.close();
    await staged?.commit();
  } catch (e) {
    if (ticker) clearInterval(ticker);
    progress.stop();
    // Keep what was written as FILE.partial: --resume continues from it.
    await staged?.abandon();
    if (workers <= 1) prepared.backbone.dispose();
    throw e;
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked > 0) log.debug(`${leaked} tensors still allocated after the run`);
  const seconds = (performance.now() - started) / 1000;
  log.info(
    `${stats.images - stats.failed} of ${stats.images} images done in ${seconds.toFixed(1)} s (${((stats.images - stats.failed) / Math.max(seconds, 1e-3)).toFixed(1)} img/s)` +
      (stats.failed > 0 ? `, ${stats.failed} failed` : '') +
      (prepared.skipped > 0 ? `, ${prepared.skipped} skipped (--resume)` : '') +
      (o.output ? ` → ${o.output}` : ''),
  );
  if (o.verbose && workers <= 1) log.info(stageLine(pipeline));
  if (workers <= 1) prepared.backbone.dispose();
  return stats.failed > 0 ? EXIT.partial : EXIT.ok;
}

