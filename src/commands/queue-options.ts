// Options every `queue` subcommand shares: where the queue and its results live.
import type { Command } from 'commander';

/** --redis, --queue, --key-prefix: where the queue and its results live. */
export function addQueueLocationOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--redis <url>', 'Redis holding the queue and the feature store: redis://[user:password@]host:port/db or rediss://')
    .option('--queue <name>', 'queue name', 'backbones')
    .option('--key-prefix <prefix>', 'feature store key prefix (as for extract --to)', 'backbones');
}
