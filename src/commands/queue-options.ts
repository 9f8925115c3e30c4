// Options every `queue` subcommand shares: where the queue and its results live.
import { Option, type Command } from 'commander';
import { keyPrefixOption } from './store-options.js';

/** --redis: the queue subcommands and the worker. */
export function redisOption(): Option {
  return new Option('--redis <url>', 'Redis holding the queue and the feature store: redis://[user:password@]host:port/db or rediss://').makeOptionMandatory();
}

/** --queue: the queue subcommands and the worker. */
export function queueNameOption(): Option {
  return new Option('--queue <name>', 'queue name').default('backbones');
}

/** --redis, --queue, --key-prefix: where the queue and its results live. */
export function addQueueLocationOptions(cmd: Command): Command {
  return cmd.addOption(redisOption()).addOption(queueNameOption()).addOption(keyPrefixOption());
}
