// The command line: global options, subcommand registration and the one place
// where errors turn into a message and an exit code. Subcommands lazy-import their
// heavy modules, so --help, models and doctor start fast.
import { Command, CommanderError, Option } from 'commander';
import { BackbonesError, EXIT, errorMessage } from './errors.js';
import { VERSION } from './version.js';
import type { SpecOptions } from './spec/types.js';
import { configureLog, isDebug, log } from './log.js';
import { BACKEND_CHOICES } from './engines/backends.js';
import { DEVICE_CHOICES } from './engines/devices.js';
import { parsePositiveInt } from './commands/options.js';
import { registerClassify } from './commands/classify.js';
import { registerExtract } from './commands/extract.js';
import { registerBench } from './commands/bench.js';
import { registerModels } from './commands/models.js';
import { registerDoctor } from './commands/doctor.js';
import { registerQueue } from './commands/queue.js';
import { registerWorker } from './commands/worker.js';
import { registerQuantize } from './commands/quantize.js';
import { registerServe } from './commands/serve.js';
import { registerSearch } from './commands/search.js';
import { registerDedup } from './commands/dedup.js';
import { registerStore } from './commands/store.js';
import { addManualPages } from './commands/manual.js';

/** The global options: the spec's engine options and cache, and how much to say. */
export interface GlobalOptions extends Pick<SpecOptions, 'backend' | 'device' | 'provider' | 'threads' | 'cacheDir'> {
  quiet?: boolean;
  debug?: boolean;
}

export function buildProgram(): Command {
  const program = new Command('backbones')
    .description('Run pretrained Keras-derived image models over folders of images: classify, extract features, benchmark.')
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(
      new Option('--backend <name>', 'what runs the models: onnx (ONNX Runtime), tensorflow, wasm or cpu (TensorFlow.js); auto: the first that works here')
        .choices(BACKEND_CHOICES as unknown as string[])
        .env('BACKBONES_BACKEND')
        .default('auto'),
    )
    .addOption(
      new Option('--device <name>', 'where models compute: auto (a hardware GPU when one works, else the CPU), cpu, gpu (an error when no GPU works)')
        .choices(DEVICE_CHOICES as string[])
        .env('BACKBONES_DEVICE')
        .default('auto'),
    )
    .addOption(new Option('--provider <list>', "ONNX Runtime execution providers in order, e.g. webgpu or cuda,cpu (selects the onnx backend)").env('BACKBONES_ONNX_PROVIDERS'))
    .option('--cache-dir <dir>', 'weights cache (default: $BACKBONES_CACHE, else $XDG_CACHE_HOME/backbones, else ~/.cache/backbones)')
    .option('--threads <n>', 'onnx backend: intra-op threads (default: every core)', parsePositiveInt('--threads'))
    .option('-q, --quiet', 'no progress or info on stderr (errors still print)')
    .option('--debug', 'show stack traces and debug logs')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // commander's own errors ("unknown option …") are one line; keep them on stderr.
      writeErr: (str) => process.stderr.write(str),
    })
    .hook('preAction', (thisCommand) => {
      const g = thisCommand.optsWithGlobals() as GlobalOptions;
      configureLog({ quiet: Boolean(g.quiet), debug: Boolean(g.debug) });
    })
    .addHelpText(
      'after',
      `
Examples:
  $ backbones classify photos/ -m mobilenet_0.25 -k 3
  $ backbones extract photos/ -m vgg16 --layer fc2 -o features.npy
  $ backbones bench vgg16 mobilenet --batch-sizes 1,8
  $ backbones models list
  $ backbones doctor --format json | jq .

Exit codes: 0 success, 1 error, 2 bad usage or value, 3 some inputs failed (their records carry "error"),
4 no image to process.`,
    );
  for (const register of [registerClassify, registerExtract, registerBench, registerModels, registerDoctor, registerQuantize, registerServe, registerSearch, registerDedup]) {
    register(program);
  }
  registerStore(program);
  registerQueue(program);
  registerWorker(program);
  addManualPages(program);
  for (const sub of program.commands) {
    sub.exitOverride().showSuggestionAfterError(true);
    for (const subsub of sub.commands) subsub.exitOverride().showSuggestionAfterError(true);
  }
  return program;
}

/** Runs the CLI on argv (as process.argv) and returns the exit code. Never throws. */
export async function runMain(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.includes('--debug')) configureLog({ debug: true });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    return handleError(err);
  }
}

function handleError(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    // commander already printed its one-line message.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  // Every error written for users (weights, images, ONNX export, …) is a BackbonesError: no hint needed.
  if (err instanceof BackbonesError) {
    log.error(errorMessage(err));
    if (isDebug() && err.stack) process.stderr.write(err.stack + '\n');
    return err.exitCode;
  }
  log.error(errorMessage(err) + (isDebug() ? '' : ' (run with --debug for details)'));
  if (isDebug() && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return EXIT.error;
}
