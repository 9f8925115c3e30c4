// `backbones doctor`: what a user pastes into a bug report.
import type { Command } from 'commander';
import { addTextOrJsonFormat } from './options.js';

export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .summary('report Node, OS, CPU, RAM, backends, GPUs and the cache: paste it into bug reports')
    .description('Check this machine: versions, CPU and RAM, every backend (TensorFlow.js and ONNX Runtime) and why it is or is not available, GPUs (nvidia-smi), the cache directory. Runs offline.');
  addTextOrJsonFormat(cmd, 'text', { jsonAlias: true })
    .addHelpText('after', '\nExamples:\n  $ backbones doctor\n  $ backbones doctor --format json | jq .backends')
    .action(async (_o: unknown, command: Command) => {
      const { runDoctor } = await import('../actions/doctor.js');
      process.exitCode = await runDoctor(command.optsWithGlobals());
    });
}
