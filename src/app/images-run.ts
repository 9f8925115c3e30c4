// What classify and extract share: backend, model, inputs, resume, output writer,
// progress bar, and the final summary and exit code.
import { existsSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import cliProgress from 'cli-progress';
import { tf } from '../runtime/tf.js';
import { initBackend, parseBackendRequest } from '../runtime/backend.js';
import { BackbonesError, EXIT } from '../errors.js';
import { log, progressEnabled, colorLevelFor } from '../log.js';
import { loadBackbone, modelSelection, type ModelSelection } from '../zoo/load.js';
import type { Backbone, BackboneInfo } from '../zoo/backbone.js';
import type { Interpolation, ResizeMode } from '../zoo/card.js';
import { expandInputs, parseExtensions, type InputEntry } from '../pipeline/inputs.js';
import { runBatches, type ImageSettings } from '../pipeline/batches.js';
import { writerFor, formatFromExtension } from '../output/index.js';
import { fileSink, stdoutSink } from '../output/sink.js';
import type { RecordKind } from '../output/records.js';
import { computeFor, recordFor, type Task, type TaskResult } from './tasks.js';
import { runInWorkers, type LoadRequest } from '../pipeline/pool.js';

export interface ImageRunOptions extends ModelSelection {
  backend: string;
  threads?: number;
  model: string;
  ext: string;
  resize?: ResizeMode;
  interpolation?: Interpolation;
  background: string;
  kerasCompat?: boolean;
  batchSize: number;
  output?: string;
  resume?: boolean;
  format?: string;
  /** Worker threads, each with its own backend instance and model copy. */
  workers?: number;
}

export interface Prepared {
  backbone: Backbone;
  entries: InputEntry[];
  skipped: number;
  settings: ImageSettings;
  format: string;
  appending: boolean;
}

/** Paths already present in a JSONL/CSV output; drops a torn last line first. */
export function pathsAlreadyDone(file: string, format: string): Set<string> {
  const done = new Set<string>();
  if (!existsSync(file)) return done;
  const text = readFileSync(file, 'utf8');
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  // A run killed mid-write can leave one partial line: cut it so appending stays valid.
  if (complete.length !== text.length) truncateSync(file, Buffer.byteLength(complete));
  const lines = complete.split('\n').filter((l) => l.length > 0);
  if (format === 'jsonl') {
    for (const line of lines) {
      try {
        const r = JSON.parse(line) as { path?: unknown };
        if (typeof r.path === 'string') done.add(r.path);
      } catch {
        throw new BackbonesError('E_USAGE', `--resume: ${file} holds a line that is not JSON; it is not a backbones JSONL output.`);
      }
    }
  } else if (format === 'csv') {
    for (const line of lines.slice(1)) {
      const m = line.match(/^"((?:[^"]|"")*)"|^([^,]*)/);
      const p = m?.[1] !== undefined ? m[1].replace(/""/g, '"') : m?.[2];
      if (p) done.add(p);
    }
  } else {
    throw new BackbonesError('E_USAGE', `--resume works with jsonl and csv output, not ${format}.`);
  }
  return done;
}

/** How to load the model again, in this thread or a worker. */
export function loadRequest(o: ImageRunOptions): LoadRequest {
  return {
    backend: o.backend,
    threads: o.threads,
    model: o.model,
    options: modelSelection(o),
  };
}

export async function prepareRun(inputs: string[], o: ImageRunOptions, kind: RecordKind, defaultFormat: string): Promise<Prepared> {
  const format = o.format ?? formatFromExtension(o.output) ?? defaultFormat;
  if (o.resume && !o.output) throw new BackbonesError('E_USAGE', '--resume needs -o FILE: it skips the inputs already in that file.');
  if (format === 'npy' && kind === 'classify') throw new BackbonesError('E_USAGE', '--format npy is for extract; classify writes table, jsonl, json or csv.');
  if (format === 'npy' && !o.output) throw new BackbonesError('E_USAGE', '--format npy needs -o FILE.npy (it writes a header at the end and sidecar files).');
  // The backend first: a backend that cannot start is a setup error, whatever the inputs.
  const choice = await initBackend(parseBackendRequest(o.backend), { threads: o.threads });
  log.info(`backend: ${choice.label} (${choice.reason})`);
  const extensions = parseExtensions(o.ext);
  let entries = await expandInputs(inputs, { extensions });
  let skipped = 0;
  let appending = false;
  if (o.resume && o.output) {
    const done = pathsAlreadyDone(o.output, format);
    appending = existsSync(o.output) && statSync(o.output).size > 0;
    const before = entries.length;
    entries = entries.filter((e) => !done.has(e.path));
    skipped = before - entries.length;
    if (skipped > 0) log.info(`Resuming: ${skipped} input${skipped === 1 ? '' : 's'} already in ${o.output}.`);
  }
  const t0 = performance.now();
  const backbone = await loadBackbone(o.model, loadRequest(o).options);
  const info = backbone.info;
  log.info(`model: ${info.name} ${info.inputSize.join('x')}, preprocess ${info.preprocess}, weights ${info.weights.description} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  if (info.weights.kind === 'random') log.warn('random weights: outputs are not meaningful predictions.');
  const settings = imageSettings(info, o);
  return { backbone, entries, skipped, settings, format, appending };
}

/** How images reach a model: the card's defaults, overridden by the image options (classify, extract, serve). */
export function imageSettings(info: Pick<BackboneInfo, 'inputSize' | 'preprocess' | 'resize' | 'interpolation'>, o: Pick<ImageRunOptions, 'resize' | 'interpolation' | 'background' | 'kerasCompat'>): ImageSettings {
  return {
    size: info.inputSize,
    preprocess: info.preprocess,
    resize: o.resize ?? info.resize,
    interpolation: o.interpolation ?? info.interpolation,
    background: o.background,
    kerasCompat: Boolean(o.kerasCompat),
  };
}

/** Runs the task over every entry, writing one record per input in order; returns the exit code. */
export async function executeRun(prepared: Prepared, o: ImageRunOptions, task: Task): Promise<number> {
  const kind: RecordKind = task.kind;
  const model = prepared.backbone.name;
  const { entries, settings, format, appending } = prepared;
  const sink = o.output ? fileSink(o.output, { append: appending }) : stdoutSink();
  const colour = !o.output && colorLevelFor(process.stdout) > 0;
  const writer = writerFor(format)(sink, { kind, colour, appending });
  const bar = progressEnabled() && entries.length > 1
    ? new cliProgress.SingleBar({ stream: process.stderr, format: ' {bar} {value}/{total} images | {rate} img/s | ETA {eta_formatted}', hideCursor: true, barsize: 30 }, cliProgress.Presets.shades_classic)
    : undefined;
  const started = performance.now();
  bar?.start(entries.length, 0, { rate: '0.0' });
  let done = 0;
  const tensorsBefore = tf.memory().numTensors;
  const onItem = (item: { path: string; error?: string }, result: TaskResult | undefined) => {
    if (result === undefined) {
      const error = item.error ?? 'no result';
      if (bar) bar.stop();
      log.warn(`${item.path}: ${error}`);
      writer.write({ path: item.path, error });
      if (bar) bar.start(entries.length, done, { rate: rate() });
    } else {
      writer.write(recordFor(task, model, item.path, result));
    }
    done += 1;
    bar?.update(done, { rate: rate() });
  };
  const workers = o.workers ?? 1;
  let stats;
  if (workers > 1) {
    // Each worker thread loads its own copy; this thread's copy was only needed to check the options.
    prepared.backbone.dispose();
    stats = await runInWorkers(entries, { workers, batchSize: o.batchSize, settings, task, load: loadRequest(o) }, onItem);
  } else {
    stats = await runBatches(entries, settings, o.batchSize, computeFor(task, prepared.backbone), onItem);
  }
  function rate(): string {
    return (done / Math.max(1e-3, (performance.now() - started) / 1000)).toFixed(1);
  }
  bar?.stop();
  await writer.close();
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked > 0) log.debug(`${leaked} tensors still allocated after the run`);
  const seconds = (performance.now() - started) / 1000;
  log.info(
    `${stats.images - stats.failed} of ${stats.images} images done in ${seconds.toFixed(1)} s (${((stats.images - stats.failed) / Math.max(seconds, 1e-3)).toFixed(1)} img/s)` +
      (stats.failed > 0 ? `, ${stats.failed} failed` : '') +
      (prepared.skipped > 0 ? `, ${prepared.skipped} skipped (--resume)` : '') +
      (o.output ? ` → ${o.output}` : ''),
  );
  if (workers <= 1) prepared.backbone.dispose();
  return stats.failed > 0 ? EXIT.partial : EXIT.ok;
}
