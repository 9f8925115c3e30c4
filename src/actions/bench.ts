// `backbones bench`: runs each model in its own child process, then prints the
// comparison and writes the report (rewritten after every model, so a crash in a
// later model leaves the earlier results on disk).
import { writeFileAtomic, checkOutputFile } from '../output/staged.js';
import { VERSION } from '../version.js';
import { BackbonesError, EXIT } from '../errors.js';
import { log, isQuiet, colorLevelFor } from '../log.js';
import { machineInfo } from '../monitor/system.js';
import { queryGpus } from '../monitor/nvidia-smi.js';
import { BENCH_SCHEMA_VERSION, unmeasuredModel, type BenchReport, type ModelResult } from '../measure/result.js';
import { machineSection } from '../measure/machine.js';
import { warningMessage } from '../measure/warnings.js';
import { warningLines } from '../measure/export/format.js';
import { benchFormats, DEFAULT_TABLE_WIDTH, exporterFor, TableExporter, type ExportFormat } from '../measure/export/index.js';
import { runModelInChild, type RuntimeInfo } from '../measure/runner.js';
import type { ChildConfig } from '../measure/protocol.js';
import type { Precision } from '../onnx/precision.js';
import type { BackendRequest } from '../engines/backends.js';
import { findCard, isKnownModel, unknownModelError } from '../zoo/registry.js';
import { resolveSpec, type RunSpec, type SpecOptions } from '../spec/spec.js';
import { precisionNotFaster } from '../measure/precision.js';
import { createRequire } from 'node:module';
import { expandInputs, noImagesIn } from '../images/inputs.js';
import { DEFAULT_EXTENSIONS } from '../images/formats.js';
import { resolveCacheDir } from '../weights/cache.js';

const TFJS_VERSION: string = (createRequire(import.meta.url)('@tensorflow/tfjs/package.json') as { version: string }).version;

/** bench: the spec's options (without --weights: imagenet when cached, else random) and the measurement's own. */
export interface BenchOptions extends SpecOptions {
  backends?: BackendRequest[];
  precisions?: Precision[];
  batchSizes: number[];
  warmup: number;
  iterations?: number;
  duration?: number;
  gpuPollMs: number;
  images?: string;
  format?: string;
  output?: string;
  plot?: string;
}

/** One child run: a model on a backend at a precision, its spec resolved, or why that model cannot run. */
interface BenchJob {
  model: string;
  backend: BackendRequest;
  precision: Precision;
  spec?: RunSpec;
  error?: string;
}

async function validate(models: string[], o: BenchOptions): Promise<{ format: ExportFormat; fileFormat?: ExportFormat; jobs: BenchJob[] }> {
  // A misspelt name is refused before the first model runs, not found after minutes of the others.
  const unknown = models.find((m) => !isKnownModel(m));
  if (unknown !== undefined) throw unknownModelError(unknown);
  if (o.iterations !== undefined && o.duration !== undefined) throw new BackbonesError('E_USAGE', 'Use either --iterations or --duration, not both.');
  const formats = benchFormats(o, Boolean(process.stdout.isTTY));
  if (o.output) checkOutputFile(o.output);
  if (o.plot && !/\.(svg|png)$/i.test(o.plot)) throw new BackbonesError('E_USAGE', `--plot needs a file ending in .svg or .png. Received: ${o.plot}`);
  if (o.plot) checkOutputFile(o.plot, '--plot');
  // The folder of --images before any model runs: the children would find it missing or empty only after their model-only runs.
  if (o.images !== undefined) {
    const found = (await expandInputs([o.images], { extensions: DEFAULT_EXTENSIONS })).filter((e) => !e.error);
    if (found.length === 0) throw new BackbonesError('E_NO_INPUTS', `--images ${o.images}: ${noImagesIn([o.images], DEFAULT_EXTENSIONS)}.`);
  }
  // Every spec before any child starts: contradictions (--provider webgpu --backends wasm), bad values, foreign int8 files.
  const backends = o.backends ?? [o.backend ?? 'auto'];
  const precisions: Precision[] = o.precisions ?? [o.precision ?? (o.calibrate !== undefined || o.int8Model !== undefined ? 'int8' : 'fp32')];
  const jobs: BenchJob[] = [];
  for (const model of models) {
    for (const backend of backends) {
      for (const precision of precisions) {
        // Only the int8 runs of --precisions fp32,int8,fp16 use the int8 sources.
        // --weights is for the zoo models of the list; a model file carries its own.
        const asked = { ...o, model, backend, precision, ...(findCard(model) ? {} : { weights: undefined }), ...(precision !== 'int8' ? { calibrate: undefined, int8Model: undefined } : {}) };
        try {
          jobs.push({ model, backend, precision, spec: await resolveSpec(asked, { weightsDefault: 'cached-or-random', batch: { flag: '--batch-sizes', sizes: o.batchSizes } }) });
        } catch (e) {
          // A model that is unknown or cannot be read is that model's failure; the others still run.
          if (!(e instanceof BackbonesError) || (e.code !== 'E_UNKNOWN_MODEL' && e.code !== 'E_NOT_FOUND')) throw e;
          jobs.push({ model, backend, precision, error: e.message });
        }
      }
    }
  }
  await checkInt8Sources(jobs, o);
  return { ...formats, jobs };
}

/**
 * int8 rows without --calibrate or --int8-model take a cached int8 model; with none cached
 * at all, every such row would fail after the rows before it ran: say so before the first.
 * (Which cached model fits is known only once a child has the weights: that stays theirs.)
 */
async function checkInt8Sources(jobs: BenchJob[], o: BenchOptions): Promise<void> {
  const int8 = jobs.filter((j) => j.spec && j.precision === 'int8' && o.calibrate === undefined && o.int8Model === undefined);
  if (int8.length === 0) return;
  const { int8CacheIsEmpty } = await import('../onnx/quantize/cache.js');
  if (await int8CacheIsEmpty(resolveCacheDir(o.cacheDir))) {
    const models = [...new Set(int8.map((j) => j.model))].join(', ');
    throw new BackbonesError('E_USAGE', `--precision int8 needs calibration: no int8 model is cached (for ${models} or any other); pass --calibrate DIR (a folder of representative images) or --int8-model FILE (made by \`backbones quantize\`).`);
  }
}

export async function runBench(models: string[], o: BenchOptions): Promise<number> {
  const { format, fileFormat, jobs } = await validate(models, o);
  const [machine, gpus] = await Promise.all([machineInfo(), queryGpus({ timeoutMs: 3000 })]);
  const report: BenchReport = {
    schemaVersion: BENCH_SCHEMA_VERSION,
    tool: { name: 'backbones', version: VERSION },
    createdAt: new Date().toISOString(),
    command: ['backbones', ...process.argv.slice(2)],
    machine: machineSection(machine, gpus),
    // The parent never loads TensorFlow.js: the children report backend and threads.
    runtime: { node: process.version, tfjs: TFJS_VERSION, backend: 'n/a', threads: null },
    settings: {
      batchSizes: o.batchSizes,
      warmupRuns: o.warmup,
      ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
      ...(o.duration !== undefined ? { durationS: o.duration } : {}),
      gpuPollMs: o.gpuPollMs,
      weights: o.weights ?? 'imagenet when cached, else random',
    },
    models: [],
  };
  const gpuLine = gpus.available ? gpus.gpus.map((g) => g.name).join(', ') : gpus.reason;
  log.info(`bench: ${models.join(', ')} | batch ${o.batchSizes.join(',')} | ${machine.cpu.model}, ${machine.cpu.logicalCores} cores | GPU: ${gpuLine}`);
  // Rewritten whole after every model, atomically: a crash or kill keeps the last complete report.
  const exportFile = () => {
    if (o.output && fileFormat) writeFileAtomic(o.output, exporterFor(fileFormat).serialize(report));
  };
  const backends = o.backends ?? [o.backend ?? 'auto'];
  const precisions = new Set(jobs.map((j) => j.precision));
  const runtimes: string[] = [];
  for (const [i, { model, backend, precision, spec, error }] of jobs.entries()) {
    const tag = `[${i + 1}/${jobs.length}] ${model}${backends.length > 1 ? ` on ${backend}` : ''}${precisions.size > 1 ? ` ${precision}` : ''}`;
    const progress = (message: string) => {
      if (!isQuiet()) process.stderr.write(`${tag}: ${message}\n`);
    };
    // What a failed row says ran: the engine the child started, else the one asked for by name
    // (none for auto: bench/SCHEMA.md), and always the precision asked for.
    const identify = (failed: ModelResult, ran?: RuntimeInfo) => {
      const engine = ran?.backend ?? (backend !== 'auto' ? backend : undefined);
      if (engine !== undefined) failed.backend ??= engine;
      if (ran) {
        failed.device ??= ran.device;
        failed.provider ??= ran.provider;
        failed.adapter ??= ran.adapter;
      }
      failed.precision ??= precision;
    };
    const failedLine = (why: string | undefined) =>
      `${model}${backends.length > 1 ? ` on ${backend}` : ''}${precisions.size > 1 ? ` ${precision}` : ''} failed: ${why}`;
    if (!spec) {
      const failed = unmeasuredModel(model, o.weights ?? 'n/a', error ?? unknownModelError(model).message);
      identify(failed);
      report.models.push(failed);
      log.error(failedLine(failed.error));
      exportFile();
      continue;
    }
    const config: ChildConfig = {
      spec,
      model,
      batchSizes: o.batchSizes,
      warmup: o.warmup,
      ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
      ...(o.duration !== undefined ? { durationS: o.duration } : {}),
      ...(o.images !== undefined ? { images: o.images } : {}),
    };
    let ran: RuntimeInfo | undefined;
    const result: ModelResult = await runModelInChild(config, {
      gpuPollMs: o.gpuPollMs,
      onProgress: progress,
      onRuntime: (r) => {
        ran = r;
        progress(`backend: ${r.label}`);
        // One line per distinct backend: "wasm (SIMD, 1 thread); onnx (onnxruntime-node 1.30.0, cpu, 2 threads)".
        const label = `${r.label} on ${r.device === 'gpu' ? 'GPU' : 'CPU'} ${r.adapter}`;
        if (!runtimes.includes(label)) runtimes.push(label);
        report.runtime = {
          node: process.version,
          tfjs: r.tfjs,
          backend: runtimes.join('; '),
          ...(r.backendVersion && runtimes.length === 1 ? { backendVersion: r.backendVersion } : {}),
          threads: runtimes.length === 1 ? r.threads : null,
        };
      },
    });
    if (result.status === 'failed') identify(result, ran);
    else result.backend ??= backend;
    report.models.push(result);
    if (result.status === 'failed') log.error(failedLine(result.error));
    else {
      const summary = result.runs
        .map((r) => `b${r.batchSize} ${r.imagesPerSecond.toFixed(2)} img/s (p50 ${r.latencyMs.p50.toFixed(1)} ms)${r.endToEnd ? `, end to end ${r.endToEnd.imagesPerSecond.toFixed(2)} img/s (limited by ${r.endToEnd.limitingStage})` : ''}`)
        .join(', ');
      progress(`done: load ${((result.loadMs ?? 0) / 1000).toFixed(1)} s, ${summary}`);
    }
    exportFile();
  }
  for (const w of precisionNotFaster(report)) log.warn(w);
  // The table fits the terminal (120 columns when there is none), dropping columns to fit.
  const table = () =>
    new TableExporter({ color: colorLevelFor(process.stdout) > 0, width: (process.stdout.isTTY && process.stdout.columns) || DEFAULT_TABLE_WIDTH }).serialize(report);
  const text = format === 'table' ? table() : exporterFor(format).serialize(report);
  // With -o the report goes to the file; a terminal still gets the table.
  if (!o.output) process.stdout.write(text);
  else if (process.stdout.isTTY) process.stdout.write(table());
  // The table and markdown on stdout carry the warnings themselves (so does the table a terminal gets with -o); JSON and CSV get them on stderr.
  const warningsShown = (!o.output && (format === 'table' || format === 'markdown')) || (o.output !== undefined && Boolean(process.stdout.isTTY));
  if (!warningsShown) {
    for (const { where, warning } of warningLines(report)) log.warn(`${where}: ${warningMessage(warning)}`);
  }
  if (o.output) log.info(`report written to ${o.output}`);
  if (o.plot) {
    const { renderPlot } = await import('../measure/plot.js');
    const plot = await renderPlot(report, o.plot);
    for (const w of plot.warnings) log.warn(w);
    log.info(`plot written to ${o.plot}`);
  }
  return report.models.some((m) => m.status === 'failed') ? EXIT.error : EXIT.ok;
}
