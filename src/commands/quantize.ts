// `backbones quantize -m MODEL --calibrate DIR`: an int8 ONNX model, and what it costs;
// `--precision fp16`: the fp16 model for a GPU engine, and what it costs.
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { addModelOptions, calibrateOption, choiceOption, parsePositiveNumber } from './options.js';

/** What quantize makes: every precision but the fp32 it starts from. */
export const QUANTIZE_PRECISIONS = ['int8', 'fp16'] as const;

export const QUANTIZE_FORMATS = ['table', 'json'] as const;
export const RANGE_METHOD_CHOICES = ['percentile', 'minmax'] as const;

export function registerQuantize(program: Command): void {
  const cmd = program
    .command('quantize')
    .summary('int8 (CPU) or fp16 (GPU) model for the onnx engine: make it, compare with fp32')
    .description(
      'Quantize a model to int8 (per-channel int8 weights, uint8 activations calibrated on a folder of representative images) ' +
        'for ONNX Runtime. The model is cached under its weights and calibration set, so `--precision int8` finds it later; ' +
        '-o also writes it to a file. --evaluate compares it with fp32 on held-out images and stores the figures in the model. ' +
        '--precision fp16 makes the fp16 model of a GPU engine instead (--device gpu or --provider webgpu; no calibration): --evaluate then compares ' +
        'fp16 on the GPU with fp32 on the CPU and times fp16 against fp32 on the GPU.',
    )
    .addOption(choiceOption('--precision <p>', 'what to make: int8 (CPU integer kernels, needs --calibrate) or fp16 (a GPU engine)', QUANTIZE_PRECISIONS, 'int8'))
    .addOption(calibrateOption())
    .option('--evaluate <dir>', 'held-out images: top-1 agreement, top-5 overlap, feature cosine and speed-up against fp32')
    .option('-o, --output <file>', 'also write the model made here (e.g. model.int8.onnx)')
    .addOption(choiceOption('--method <m>', 'activation ranges: percentile (clip rare outliers) or minmax', RANGE_METHOD_CHOICES, 'percentile'))
    .option('--percentile <p>', 'percentile method: share of values kept inside each range', parsePositiveNumber('--percentile'), 99.999)
    .option('-l, --layer <name>', "layers (comma-separated) the model keeps as outputs besides the card's feature layer (for `extract --layer` with it); --evaluate compares the first (default: the feature layer)")
    .option('--keep-float <layers>', 'comma-separated layer names to leave in fp32 (the classifier always is)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .addOption(choiceOption('-f, --format <format>', 'output format (default: table on a terminal, json when piped)', QUANTIZE_FORMATS));
  addModelOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ backbones quantize -m resnet50 --calibrate calib/ --evaluate holdout/ -o resnet50.int8.onnx
  $ backbones classify photos/ -m resnet50 --backend onnx --precision int8        # uses the cached int8 model
  $ backbones extract photos/ -m mobilenet --int8-model mobilenet.int8.onnx -o features.npy
  $ backbones --device gpu quantize -m resnet50 --precision fp16 --evaluate holdout/`,
  );
  cmd.action(async (_opts: unknown, command: Command) => {
    const opts = command.optsWithGlobals();
    const model = opts.model as string;
    if (opts.precision === 'fp16') {
      if (opts.calibrate !== undefined || command.getOptionValueSource('method') === 'cli' || opts.keepFloat !== undefined) {
        throw usageError('--calibrate, --method and --keep-float are for --precision int8; fp16 needs no calibration.');
      }
      const { runQuantizeFp16 } = await import('../actions/quantize-fp16.js');
      process.exitCode = await runQuantizeFp16(model, { ...opts, precision: undefined });
      return;
    }
    if (opts.calibrate === undefined) throw usageError('quantize --precision int8 needs --calibrate DIR: a folder of representative images.');
    const { runQuantize } = await import('../actions/quantize.js');
    process.exitCode = await runQuantize(model, opts as Parameters<typeof runQuantize>[1]);
  });
}
