// What classify and extract share: the spec (every check first), the output (openOutput)
// or the feature store, the engine and model, the batches, the progress bar, and the
// final summary and exit code.
import { performance } from 'node:perf_hooks';
import { tf } from '../tf.js';
import { startEngine, engineLine } from '../engines/select.js';
import { BackbonesError, EXIT } from '../errors.js';
import { aboutInput, log, progressEnabled, colorLevelFor } from '../log.js';
import type { Backbone } from '../zoo/backbone.js';
import { expandInputs, noImagesIn, parseExtensions, type InputEntry } from '../images/inputs.js';
import { emptyPipelineStats, runBatches } from '../pipeline/batches.js';
import { startDecodePool } from '../pipeline/decode-pool.js';
import { DEFAULT_PREFETCH_MB, defaultDecodeThreads } from '../pipeline/decode-threads.js';
import { stageLine, stageReport } from '../pipeline/stages.js';
import { openOutput, planOutput } from '../output/open.js';
import type { OutputRecord, RecordKind } from '../output/records.js';
import type { RecordWriter } from '../output/writer.js';
import { RunProgress } from './progress.js';
import { computeFor, recordFor, type Task, type TaskResult } from '../tasks/task.js';
import { assertFinite, resultValues } from '../tasks/finite.js';
import { runInModelThreads } from '../pipeline/model-threads.js';
import { resolveSpec, type RunSpec, type SpecOptions } from '../spec/spec.js';
import { headerLines, imageSettingsOf, loadForSpec, recordOf } from '../spec/load.js';
import { expectedSpec } from '../spec/fingerprint.js';
import type { StoreRunOptions } from './store-run.js';

/** classify/extract: the spec's options, plus where results go and which files to take. */
export interface ImageRunOptions extends SpecOptions, StoreRunOptions {
  ext: string;
  output?: string;
  resume?: boolean;
  format?: string;
  /** Report stage times and the limiting stage. */
  verbose?: boolean;
}

/** The task a spec asks for (the spec resolved the layer). */
function taskOf(spec: RunSpec): Task {
  const t = spec.task!;
  return t.kind === 'classify' ? t : { kind: 'extract', layer: t.layer!, pool: t.pool, l2: t.l2 };
}

/** Runs classify or extract over the inputs, one record per input in order; returns the exit code. */
export async function runImages(inputs: string[], o: ImageRunOptions, kind: RecordKind, defaultFormat: string): Promise<number> {
  // Every check before anything starts: no backend, no file, no connection yet.
  const spec = await resolveSpec(o, { task: kind });
  if (o.resume && !o.output && !o.to) throw new BackbonesError('E_USAGE', '--resume needs -o FILE, --to redis://… or --to PATH.lance: it skips the inputs already there.');
  const extensions = parseExtensions(o.ext);
  const plan = o.to ? undefined : planOutput({ output: o.output, format: o.format, defaultFormat, kind, resume: o.resume, overwrite: o.overwrite });
  // The store connects before anything else: an unreachable server fails at once.
  const store = o.to ? await (await import('./store-run.js')).openRunStore(o, kind, spec.run.batchSize) : undefined;
  // The output's lock and what --resume continues (a file made differently is refused here).
  const out = plan ? await openOutput(plan, expectedSpec(spec)) : undefined;
  let backbone: Backbone | undefined;
  try {
    // The inputs after the output's lock (a run reading stdin holds its file) and before the
    // backend and its GPU probe: nothing starts for nothing to do.
    let entries = await expandInputs(inputs, { extensions });
    if (entries.length === 0) {
      log.warn(`${noImagesIn(inputs, extensions)}; nothing was written.`, { evenQuiet: true });
      await out?.abandon();
      return EXIT.noInputs;
    }
    const engine = await startEngine(spec.engine);
    log.info(`backend: ${engineLine(engine.choice)}`);
    let skipped = 0;
    if (out && out.done.size > 0) {
      const before = entries.length;
      entries = entries.filter((e) => !out.done.has(e.path));
      skipped = before - entries.length;
      if (skipped > 0) log.info(`Resuming: ${skipped} input${skipped === 1 ? '' : 's'} already in ${out.resumedFrom ?? o.output}.`);
      if (entries.length === 0 && !out.fromPartial) {
        log.info(`Nothing left to do: every input is already in ${o.output}.`);
        await out.abandon();
        return EXIT.ok;
      }
    }
    const t0 = performance.now();
    backbone = await loadForSpec(spec, engine);
    const info = backbone.info;
    log.info(`model: ${info.name} ${info.inputSize.join('x')}${spec.precision !== 'fp32' ? `, ${spec.precision}` : ''}, preprocess ${info.preprocess}, weights ${info.weights.description} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    if (info.weights.kind === 'random') log.warn('random weights: outputs are not meaningful predictions.');
    const task = taskOf(spec);
    if (task.kind === 'extract') log.info(`layer: ${task.layer}${task.pool !== 'none' ? `, ${task.pool}-pooled` : ''}${task.l2 ? ', L2-normalised' : ''}`);
    // int8 and fp16 setup (calibration, a missing int8 model, an fp16 export ONNX Runtime refuses) fails the run before
    // any output is opened, not image by image; with --workers it also calibrates or exports once here, and the
    // model threads find the result in the cache.
    if (spec.precision !== 'fp32') await backbone.prepare(task.kind === 'extract' ? [task.layer] : []);
    for (const line of headerLines(spec, backbone)) log.info(line);
    const batching = await backbone.batchPlan(spec.run.batchSize);
    if (batching) {
      const ips = (b: number) => `${batching.table.imagesPerSecond[String(b)]!.toFixed(1)} img/s`;
      const largest = Math.max(...Object.keys(batching.table.imagesPerSecond).map(Number).filter((b) => b <= spec.run.batchSize));
      log.info(
        `batch ${spec.run.batchSize} runs as sub-batches of ${batching.size}: on this engine and adapter batch ${batching.size} measured ${ips(batching.size)}, batch ${largest} ${ips(largest)} ` +
          `(${batching.table.measuredAt.slice(0, 10)}, ${batching.table.file}; \`backbones bench\` with --batch-sizes measures again)`,
      );
    }
    const record = recordOf(spec, backbone);
    const storeWriter = await store?.begin({ spec, backbone, entries, skipped }, task, record);
    if (storeWriter) {
      entries = storeWriter.entries;
      skipped = storeWriter.skipped;
    }
    out?.start(record, { colour: !o.output && colorLevelFor(process.stdout) > 0 });
    const writer: RecordWriter = storeWriter?.writer ?? { write: (r) => out!.write(r), close: () => out!.commit() };
    const run = await execute({ spec, backbone, entries, skipped, task, writer, output: o.output, verbose: o.verbose });
    backbone = undefined; // disposed by execute
    return run;
  } catch (e) {
    await out?.abandon();
    backbone?.dispose();
    throw e;
  }
}

interface Execution {
  spec: RunSpec;
  backbone: Backbone;
  entries: InputEntry[];
  skipped: number;
  task: Task;
  writer: RecordWriter;
  output?: string;
  verbose?: boolean;
}

async function execute(x: Execution): Promise<number> {
  const { spec, backbone, entries, task, writer } = x;
  const model = backbone.name;
  const settings = imageSettingsOf(spec, backbone.info);
  const pipeline = emptyPipelineStats();
  // --verbose: the stage that limits the run, on the bar (or every few seconds without one).
  const limit = () => {
    const stage = x.verbose ? stageReport(pipeline).limitingStage : undefined;
    return stage ? ` | limited by ${stage}` : '';
  };
  const progress = new RunProgress(entries.length, progressEnabled() && entries.length > 1, process.stderr, limit);
  const started = performance.now();
  const ticker = x.verbose && !progress.visible ? setInterval(() => log.info(`${progress.line()}${limit()}`), 5000) : undefined;
  ticker?.unref();
  const tensorsBefore = tf.memory().numTensors;
  const toTerminal = !x.output && Boolean(process.stdout.isTTY);
  const write = (record: OutputRecord) => (toTerminal ? progress.interrupt(() => writer.write(record)) : writer.write(record));
  const onItem = (item: { path: string; error?: string }, result: TaskResult | undefined) => {
    if (result === undefined) {
      const error = item.error ?? 'no result';
      // A failed input is an error for that input: shown even with --quiet.
      log.error(aboutInput(item.path, error));
      write({ path: item.path, error });
    } else {
      assertFinite(model, item.path, resultValues(result));
      write(recordFor(task, model, item.path, result));
    }
    progress.tick();
  };
  const modelThreads = spec.run.workers;
  const prefetchBytes = (spec.run.prefetchMb ?? DEFAULT_PREFETCH_MB) * 1024 * 1024;
  let stats;
  try {
    if (modelThreads > 1) {
      // Each model thread loads its own copy; this thread's copy was only needed to check the spec.
      backbone.dispose();
      stats = await runInModelThreads(entries, { settings, task, spec, prefetchBytes: prefetchBytes / modelThreads }, onItem);
    } else {
      // The decode pool: worth its start-up only with two images or more.
      const decodable = entries.filter((e) => !e.error).length;
      const threads = decodable < 2 ? 0 : (spec.run.decodeThreads ?? defaultDecodeThreads());
      const loader = threads > 0 ? await startDecodePool(threads, settings) : undefined;
      try {
        stats = await runBatches(entries, settings, spec.run.batchSize, computeFor(task, backbone), onItem, { loader, prefetchBytes, stats: pipeline });
      } finally {
        await loader?.close();
      }
    }
    if (ticker) clearInterval(ticker);
    progress.stop();
    await writer.close();
  } catch (e) {
    if (ticker) clearInterval(ticker);
    progress.stop();
    if (modelThreads <= 1) backbone.dispose();
    throw e;
  }
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked > 0) log.debug(`${leaked} tensors still allocated after the run`);
  const seconds = (performance.now() - started) / 1000;
  log.info(
    `${stats.images - stats.failed} of ${stats.images} images done in ${seconds.toFixed(1)} s (${((stats.images - stats.failed) / Math.max(seconds, 1e-3)).toFixed(1)} img/s)` +
      (stats.failed > 0 ? `, ${stats.failed} failed` : '') +
      (x.skipped > 0 ? `, ${x.skipped} skipped (--resume)` : '') +
      (x.output ? ` → ${x.output}` : ''),
  );
  if (x.verbose && modelThreads <= 1) log.info(stageLine(pipeline));
  if (modelThreads <= 1) backbone.dispose();
  return stats.failed > 0 ? EXIT.partial : EXIT.ok;
}
