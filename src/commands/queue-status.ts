// `backbones queue status --redis URL`: jobs waiting/active/completed/failed, images/s.
import type { Command } from 'commander';
import { choiceOption } from './options.js';
import { addQueueLocationOptions } from './queue-options.js';

export function registerQueueStatus(queue: Command): void {
  const cmd = queue.command('status').summary('jobs waiting/active/completed/failed, images done and images/s, failed jobs with their reason');
  addQueueLocationOptions(cmd);
  cmd.addOption(choiceOption('-f, --format <format>', 'output format (default: text)', ['text', 'json']));
  cmd.action(async (_opts: unknown, command: Command) => {
    const { runQueueStatus } = await import('../queue/status.js');
    process.exitCode = await runQueueStatus(command.optsWithGlobals());
  });
}
