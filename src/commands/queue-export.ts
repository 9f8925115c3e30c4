// `backbones queue export -o feats.npy|feats.jsonl|feats.csv --redis URL`.
import type { Command } from 'commander';
import { choiceOption } from './options.js';
import { addQueueLocationOptions } from './queue-options.js';
import { extensionsHolding, formatsHolding } from '../output/index.js';

export function registerQueueExport(queue: Command): void {
  const cmd = queue
    .command('export')
    .summary("write the queue's results from the store, in input order")
    .description('Write every enqueued image\'s vector in input order, as extract would (.npy + .paths.jsonl, JSONL or CSV). Images without a result yet are error records (exit 3).')
    .requiredOption('-o, --output <file>', `output file: ${extensionsHolding('extract').join(', ')}`);
  addQueueLocationOptions(cmd);
  cmd.addOption(choiceOption('-f, --format <format>', 'output format (default: from the -o extension)', formatsHolding('extract')));
  cmd.action(async (_opts: unknown, command: Command) => {
    const { runQueueExport } = await import('../queue/export.js');
    process.exitCode = await runQueueExport(command.optsWithGlobals());
  });
}
