// The command line: global options, subcommand registration and the one place
// where errors turn into a message and an exit code. Subcommands lazy-import their
// heavy modules, so --help, models and doctor start fast.
import { Command, CommanderError, Option } from 'commander';
import { createRequire } from 'node:module';
import { BackbonesError, EXIT, errorMessage } from './errors.js';
import { configureLog, isDebug, log } from './log.js';
import { BACKEND_CHOICES } from './runtime/choices.js';
import { parsePositiveInt } from './commands/options.js';
import { registerClassify } from './commands/classify.js';
import { registerExtract } from './commands/extract.js';
import { registerBench } from './commands/bench.js';
import { registerModels } from './commands/models.js';
import { registerDoctor } from './commands/doctor.js';
import { registerServe } from './commands/serve.js';

const require = createRequire(import.meta.url);
export const VERSION: string = (require('../package.json') as { version: string }).version;

export interface GlobalOptions {
  backend: string;
  threads?: number;
  quiet?: boolean;
  debug?: boolean;
  cacheDir?: string;
}

export function buildProgram(): Command {
  const program = new Command('backbones')
    .description('Run pretrained Keras-derived image models over folders of images: classify, extract features, benchmark.')
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(
      new Option('--backend <name>', 'TensorFlow.js backend')
        .choices(BACKEND_CHOICES as unknown as string[])
        .env('BACKBONES_BACKEND')
        .default('auto'),
    )
    .option('--cache-dir <dir>', 'weights cache (default: $BACKBONES_CACHE or ~/.cache/backbones)')
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
  $ backbones classify photos/ -m mobilenet -k 3
  $ backbones extract photos/ -m vgg16 --layer fc2 -o features.npy
  $ backbones bench vgg16 mobilenet --batch-sizes 1,8
  $ backbones models list
  $ backbones doctor --json | jq .

Exit codes: 0 success, 1 error, 2 bad usage, 3 some inputs failed (their records carry "error").`,
    );
  for (const register of [registerClassify, registerExtract, registerBench, registerModels, registerDoctor, registerServe]) {
    register(program);
  }
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

const USER_ERROR_NAMES = new Set(['WeightsError', 'ImageDecodeError']);

function handleError(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
    // commander already printed its one-line message.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof BackbonesError) {
    log.error(err.message);
    if (isDebug() && err.stack) process.stderr.write(err.stack + '\n');
    return err.exitCode;
  }
  // Errors of the weights and image modules are written for users: no hint needed.
  const known = err instanceof Error && USER_ERROR_NAMES.has(err.name);
  log.error(errorMessage(err) + (known || isDebug() ? '' : ' (run with --debug for details)'));
  if (isDebug() && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  return EXIT.error;
}
