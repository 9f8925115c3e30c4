// `backbones queue add INPUTS… --redis URL -m MODEL [--layer L] [--job-size N]`.
import type { Command } from 'commander';
import { addExtensionOption, addImageHandlingOptions, addModelOptions, addPrecisionOptions, choiceOption, parseNonNegativeInt, parsePositiveInt } from './options.js';
import { decodeModeOption } from './pipeline-options.js';
import { addQueueLocationOptions } from './queue-options.js';
import { POOLINGS } from '../zoo/card.js';

export function registerQueueAdd(queue: Command): void {
  const cmd = queue
    .command('add')
    .summary('enqueue extract jobs of --job-size image paths')
    .description('Expand the inputs (files, directories, - for stdin) to absolute paths, record them in input order, and enqueue one job per --job-size paths. Every worker must be able to read these paths: use a shared filesystem.')
    .argument('<inputs...>', 'image files, directories, or - for paths on stdin');
  addQueueLocationOptions(cmd);
  addModelOptions(cmd);
  addImageHandlingOptions(addExtensionOption(cmd));
  // The workers decode and run as the job says; the decode threads are each worker's own.
  cmd.addOption(decodeModeOption());
  addPrecisionOptions(cmd);
  cmd
    .option('-l, --layer <name>', "layer to read (default: the model card's feature layer)")
    .addOption(choiceOption('--pool <kind>', 'reduce spatial layers [h,w,c] to [c]', POOLINGS, 'none'))
    .option('--l2', 'L2-normalise each vector')
    .option('--job-size <n>', 'image paths per job', parsePositiveInt('--job-size'), 64)
    .option('-b, --batch-size <n>', 'images per inference batch in the worker', parsePositiveInt('--batch-size'), 8)
    .option('--attempts <n>', 'tries per job before it is reported failed (model cannot load, Redis lost)', parsePositiveInt('--attempts'), 3)
    .option('--backoff <ms>', 'wait before the first retry of a failed job, doubled each time', parseNonNegativeInt('--backoff'), 2000)
    .option('--overwrite', 'let workers replace keys that hold a result made another way (any field of the run spec), and enqueue into a queue that holds jobs made another way')
    .addOption(choiceOption('-f, --format <format>', 'json: print {queue, prefix, images, jobs} on stdout', ['json']))
    .addHelpText('after', `
Example:
  $ backbones queue add /shared/photos --redis redis://queue-host:6379/0 -m mobilenet_0.25 --job-size 64`);
  cmd.action(async (inputs: string[], _opts: unknown, command: Command) => {
    const { runQueueAdd } = await import('../queue/add.js');
    process.exitCode = await runQueueAdd(inputs, command.optsWithGlobals());
  });
}
