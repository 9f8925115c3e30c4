// `backbones worker --redis URL [--queue NAME] [--concurrency N]`: processes queued
// extract jobs into the Redis feature store until SIGTERM.
import type { Command } from 'commander';
import { parsePositiveInt } from './options.js';
import { queueNameOption, redisOption } from './queue-options.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .summary('process `queue add` jobs into the Redis feature store (run on any number of machines)')
    .description('Take extract jobs from the queue, load each model once, run them through the normal pipeline and engine, and write the results to the feature store. A worker killed mid-job loses nothing: after --lock-duration another worker takes the job over. SIGTERM or Ctrl-C: finish the current job, then exit 0.')
    .addOption(redisOption())
    .addOption(queueNameOption())
    .option('--concurrency <n>', 'jobs processed at once by this worker', parsePositiveInt('--concurrency'), 1)
    .option('--lock-duration <ms>', "how long a job stays this worker's without a lock renewal (a killed worker's job is taken over after it)", parsePositiveInt('--lock-duration'), 30_000)
    .option('--stalled-interval <ms>', 'how often to look for jobs of dead workers', parsePositiveInt('--stalled-interval'), 30_000)
    .addHelpText('after', `
Example:
  $ backbones worker --redis redis://queue-host:6379/0 --backend onnx`)
    .action(async (_opts: unknown, command: Command) => {
      const { runWorker } = await import('../queue/worker.js');
      process.exitCode = await runWorker(command.optsWithGlobals());
    });
}
