// Options of the decode pipeline (decode pool, prefetch budget, fast decoding): shared
// by classify, extract and bench.
import { DECODE_MODES } from '../images/index.js';
import type { Command } from 'commander';
import { choiceOption, parseNonNegativeInt, parsePositiveNumber } from './options.js';
import { DEFAULT_PREFETCH_MB } from '../pipeline/decode-threads.js';

/** --decode (classify, extract, bench, serve, queue add). */
export function decodeModeOption() {
  return choiceOption('--decode <mode>', 'exact: full decode, Keras/Pillow/TF pixel parity; fast: JPEG/WebP shrink on load to >= 2x the input size first (several times cheaper for big photos)', DECODE_MODES, 'exact');
}

/** --decode and --decode-threads (classify, extract, bench, serve). */
export function addDecodeOptions(cmd: Command): Command {
  return cmd
    .addOption(decodeModeOption())
    .option('--decode-threads <n>', 'threads that decode and preprocess (default: every core; 0 = the main thread)', parseNonNegativeInt('--decode-threads'));
}

export function addPipelineOptions(cmd: Command, opts: { verbose?: boolean } = {}): Command {
  addDecodeOptions(cmd)
    .option('--prefetch-mb <n>', 'memory for images decoded ahead of the engine, full-size pixels in flight included (one bigger image still runs, alone)', parsePositiveNumber('--prefetch-mb'), DEFAULT_PREFETCH_MB);
  if (opts.verbose) cmd.option('--verbose', 'also report per-stage times and which stage (decode, preprocess, inference) limits the run');
  return cmd;
}
