// `backbones doctor`: what a user pastes into a bug report.
import type { Command } from 'commander';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .summary('report Node, OS, CPU, RAM, backends, GPUs and the cache: paste it into bug reports')
    .description('Check this machine: versions, CPU and RAM, every TensorFlow.js backend and why it is or is not available, GPUs (nvidia-smi), the cache directory. Runs offline.')
    .option('--json', 'one JSON object')
    .addHelpText('after', '\nExamples:\n  $ backbones doctor\n  $ backbones doctor --json | jq .backends')
    .action(async (_o: unknown, command: Command) => {
      const { runDoctor } = await import('../actions/doctor.js');
      process.exitCode = await runDoctor(command.optsWithGlobals());
    });
}
