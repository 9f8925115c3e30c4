// `backbones bench [MODELS…]`: side-by-side load time, latency, throughput, CPU, RAM, GPU memory.
import type { Command } from 'commander';
import { BACKEND_CHOICES } from '../engines/backends.js';
import { usageError } from '../errors.js';
import { addPrecisionOptions, addModelOptions, choiceOption, parseIntList, parseNonNegativeInt, parsePositiveInt, parsePositiveNumber } from './options.js';
import { addPipelineOptions } from './pipeline-options.js';
import { EXPORT_FORMATS } from '../measure/export/index.js';
import { PRECISIONS, type Precision } from '../onnx/precision.js';

function parseBackendList(value: string): string[] {
  const list = value.split(',').map((b) => b.trim().toLowerCase()).filter(Boolean);
  const bad = list.filter((b) => !(BACKEND_CHOICES as readonly string[]).includes(b));
  if (list.length === 0 || bad.length > 0) throw usageError(`--backends takes a comma-separated list of ${BACKEND_CHOICES.join(', ')}. Received: ${value}`);
  return [...new Set(list)];
}

function parsePrecisionList(value: string): Precision[] {
  const list = value.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean);
  const bad = list.filter((p) => !(PRECISIONS as readonly string[]).includes(p));
  if (list.length === 0 || bad.length > 0) throw usageError(`--precisions takes a comma-separated list of ${PRECISIONS.join(', ')}. Received: ${value}`);
  return [...new Set(list)] as Precision[];
}

export const DEFAULT_BENCH_MODELS = ['vgg16', 'mobilenet'];

export function registerBench(program: Command): void {
  const cmd = program
    .command('bench')
    .summary('compare backbones: load time, latency percentiles, throughput, CPU, RAM, GPU memory')
    .description(
      'Benchmark each model in its own child process (so memory and GPU figures are its own and a crash is only its failure). ' +
        'Without models, compares vgg16 and mobilenet. Weights: imagenet when cached, else random (timings do not depend on weight values).',
    )
    .argument('[models...]', 'zoo names or model.json paths', DEFAULT_BENCH_MODELS)
    // -m as on every other command; repeatable, since bench compares several.
    .option('-m, --model <name|path>', 'a model to compare, repeatable (the same as naming it as an argument)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--batch-sizes <list>', 'batch sizes to measure', parseIntList('--batch-sizes'), [1, 8])
    .option('--backends <list>', 'run every model on each of these backends, e.g. wasm,onnx (default: --backend)', parseBackendList)
    .option('--precisions <list>', 'onnx engine: run every model at each precision, e.g. fp32,int8 (int8 needs --calibrate or a cached int8 model) or fp32,fp16 (a GPU engine)', parsePrecisionList)
    .option('--warmup <n>', 'untimed runs before measuring', parseNonNegativeInt('--warmup'), 2)
    .option('-n, --iterations <n>', 'timed runs per batch size', parsePositiveInt('--iterations'))
    .option('--duration <seconds>', 'time budget per batch size instead of a fixed number of runs', parsePositiveNumber('--duration'))
    .option('--gpu-poll-ms <ms>', 'nvidia-smi polling interval', parsePositiveInt('--gpu-poll-ms'), 100)
    .option('--images <dir>', 'also run the real pipeline over a folder (decode pool, prefetch, engine): end-to-end img/s, stage times, pool CPU, the limiting stage')
    .addOption(choiceOption('-f, --format <format>', 'output format (default: table on a terminal, json when piped)', EXPORT_FORMATS))
    .option('-o, --output <file>', 'write the report to a file (format from the extension unless --format)')
    .option('--plot <file>', 'draw latency distribution and throughput to an .svg or .png');
  addModelOptions(cmd, { model: false });
  addPipelineOptions(cmd);
  addPrecisionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ backbones bench                                   # vgg16 vs mobilenet, batch 1 and 8
  $ backbones bench mobilenet_v2 resnet50 --batch-sizes 1,8,32 --iterations 30
  $ backbones bench -m resnet50 -m mobilenet_v2       # the same as naming them as arguments
  $ backbones bench vgg16 --duration 20 --format markdown -o bench.md --plot bench.svg
  $ backbones bench mobilenet_0.25 --images photos/   # end to end: decode + preprocess + inference
  $ backbones bench vgg16 mobilenet resnet50 --backends wasm,onnx --batch-sizes 1,8
  $ backbones bench vgg16 resnet50 --backend onnx --precisions fp32,int8 --calibrate photos/ --batch-sizes 8`,
  );
  cmd.action(async (positional: string[], _opts: unknown, command: Command) => {
    const { runBench } = await import('../actions/bench.js');
    const opts = command.optsWithGlobals();
    const named = [...(command.args.length > 0 ? positional : []), ...(opts.model as string[])];
    const models = named.length > 0 ? named : DEFAULT_BENCH_MODELS;
    delete opts.model; // each model's spec gets its own name
    // bench picks imagenet-when-cached-else-random unless --weights is given.
    if (command.getOptionValueSource('weights') !== 'cli') opts.weights = undefined;
    process.exitCode = await runBench(models, opts as Parameters<typeof runBench>[1]);
  });
}
