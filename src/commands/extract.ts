// `backbones extract INPUTS… --layer NAME`: one feature vector per image.
import type { Command } from 'commander';
import { addStoreOptions } from './store-options.js';
import { addFeatureOptions, addPrecisionOptions, addImageOptions, addModelOptions, choiceOption } from './options.js';
import { addPipelineOptions } from './pipeline-options.js';
import { formatsHolding } from '../output/index.js';

export function registerExtract(program: Command): void {
  const cmd = program
    .command('extract')
    .summary('feature vectors of any layer (JSONL, .npy, CSV, Parquet, a vector store)')
    .description('Write the output of a named layer for every image: JSONL by default, .npy (N×D float32 + a .paths.jsonl sidecar), CSV or Parquet; or --to a Redis feature store or a LanceDB vector store (PATH.lance).')
    .argument('<inputs...>', 'image files, directories, or - for paths on stdin')
    .addOption(choiceOption('-f, --format <format>', 'output format (default: from the -o extension, else jsonl)', formatsHolding('extract')));
  addFeatureOptions(cmd);
  addModelOptions(cmd);
  addImageOptions(cmd);
  addStoreOptions(cmd);
  addPipelineOptions(cmd, { verbose: true });
  addPrecisionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ backbones extract photos/ -m vgg16 --layer fc2 > features.jsonl
  $ backbones extract photos/ -m resnet50 --layer avg_pool -o features.npy
  $ backbones extract photos/ -m mobilenet_0.25 --layer conv_pw_13_relu --pool avg --l2 | jq '.vector | length'
  $ backbones extract photos/ -m mobilenet_0.25 -o features.parquet
  $ backbones extract photos/ -m mobilenet_0.25 --to photos.lance --resume`,
  );
  cmd.action(async (inputs: string[], _opts: unknown, command: Command) => {
    const { runExtract } = await import('../actions/extract.js');
    process.exitCode = await runExtract(inputs, command.optsWithGlobals());
  });
}
