// `backbones queue add INPUTS… --redis URL -m MODEL [--layer L] [--job-size N]`.
import type { Command } from 'commander';
import { addExtensionOption, addFeatureOptions, addImageHandlingOptions, addModelOptions, addPrecisionOptions, batchSizeOption, choiceOption, parseNonNegativeInt, parsePositiveInt } from './options.js';
import { decodeModeOption } from './pipeline-options.js';
import { addQueueLocationOptions } from './queue-options.js';
import { DEFAULT_REMOVE_ON_COMPLETE, DEFAULT_REMOVE_ON_FAIL } from '../queue/jobs.js';

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
  addFeatureOptions(cmd);
  cmd
    .option('--job-size <n>', 'image paths per job', parsePositiveInt('--job-size'), 64)
    .addOption(batchSizeOption())
    .option('--attempts <n>', 'tries per job before it is reported failed (model cannot load, Redis lost)', parsePositiveInt('--attempts'), 3)
    .option('--backoff <ms>', 'wait before the first retry of a failed job, doubled each time', parseNonNegativeInt('--backoff'), 2000)
    .option('--overwrite', 'enqueue into a queue that holds jobs made another way (any field of the run spec): its paths count as not done until workers redo them under the new spec')
    .option('--force', 'enqueue paths the queue already holds again (default: only new paths; workers skip the stored ones)')
    .option('--remove-on-complete <keep>', 'completed jobs BullMQ keeps: a count of the newest, an age (30m, 24h, 7d), both (1000,7d), now or never', DEFAULT_REMOVE_ON_COMPLETE)
    .option('--remove-on-fail <keep>', 'failed jobs BullMQ keeps (with their reason): as --remove-on-complete', DEFAULT_REMOVE_ON_FAIL)
    .addOption(choiceOption('-f, --format <format>', 'output format (default: none, a summary on stderr): json prints {queue, prefix, images, jobs} on stdout', ['json']))
    .addHelpText('after', `
Example:
  $ backbones queue add /shared/photos --redis redis://queue-host:6379/0 -m mobilenet_0.25 --job-size 64`);
  cmd.action(async (inputs: string[], _opts: unknown, command: Command) => {
    const { runQueueAdd } = await import('../queue/add.js');
    process.exitCode = await runQueueAdd(inputs, command.optsWithGlobals());
  });
}
