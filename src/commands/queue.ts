// `backbones queue add|status|export`: distributed extraction on a BullMQ queue in Redis
// (the workers are `backbones worker`). One file per subcommand.
import type { Command } from 'commander';
import { registerQueueAdd } from './queue-add.js';
import { registerQueueStatus } from './queue-status.js';
import { registerQueueExport } from './queue-export.js';

export function registerQueue(program: Command): void {
  const queue = program
    .command('queue')
    .summary('distributed extract: enqueue images, watch, export (workers: `backbones worker`)')
    .description('Extract features on many machines: `queue add` enqueues jobs of image paths on a BullMQ queue in Redis, `backbones worker` processes them into the Redis feature store, `queue status` shows progress, `queue export` writes the results in input order. Paths must be readable by every worker (a shared filesystem).');
  for (const register of [registerQueueAdd, registerQueueStatus, registerQueueExport]) register(queue);
}
