// `backbones quantize MODEL --calibrate DIR`: an int8 ONNX model, and what it costs.
import type { Command } from 'commander';
import { addModelOptions, choiceOption, parsePositiveNumber } from './options.js';

export const QUANTIZE_FORMATS = ['table', 'json'] as const;
export const RANGE_METHOD_CHOICES = ['percentile', 'minmax'] as const;

export function registerQuantize(program: Command): void {
  const cmd = program
    .command('quantize')
    .summary('int8 model for the onnx engine: calibrate, check integer kernels, compare with fp32')
    .description(
      'Quantize a model to int8 (per-channel int8 weights, uint8 activations calibrated on a folder of representative images) ' +
        'for ONNX Runtime. The model is cached under its weights and calibration set, so `--precision int8` finds it later; ' +
        '-o also writes it to a file. --evaluate compares it with fp32 on held-out images and stores the figures in the model.',
    )
    .argument('<model>', 'zoo name or TF.js model.json path')
    .requiredOption('--calibrate <dir>', 'folder of representative images (a few hundred are plenty; tens work)')
    .option('--evaluate <dir>', 'held-out images: top-1 agreement, top-5 overlap, feature cosine and speed-up against fp32')
    .option('-o, --output <file>', 'also write the int8 model here (e.g. model.int8.onnx)')
    .addOption(choiceOption('--method <m>', 'activation ranges: percentile (clip rare outliers) or minmax', RANGE_METHOD_CHOICES, 'percentile'))
    .option('--percentile <p>', 'percentile method: share of values kept inside each range', parsePositiveNumber('--percentile'), 99.999)
    .option('-l, --layer <layers>', 'comma-separated layers to expose besides the feature layer, for `extract --layer` with this int8 model')
    .option('--keep-float <layers>', 'comma-separated layer names to leave in fp32 (the classifier always is)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .addOption(choiceOption('-f, --format <format>', 'report format (default: table on a terminal, json when piped)', QUANTIZE_FORMATS));
  addModelOptions(cmd, { multiple: true });
  cmd.addHelpText(
    'after',
    `
Examples:
  $ backbones quantize resnet50 --calibrate calib/ --evaluate holdout/ -o resnet50.int8.onnx
  $ backbones classify photos/ -m resnet50 --backend onnx --precision int8        # uses the cached int8 model
  $ backbones extract photos/ -m mobilenet --int8-model mobilenet.int8.onnx -o features.npy`,
  );
  cmd.action(async (model: string, _opts: unknown, command: Command) => {
    const { runQuantize } = await import('../actions/quantize.js');
    process.exitCode = await runQuantize(model, command.optsWithGlobals());
  });
}
