// `backbones classify INPUTS…`: top-k ImageNet labels for every image.
import type { Command } from 'commander';
import { addStoreOptions } from './store-options.js';
import { addPrecisionOptions, addImageOptions, addModelOptions, choiceOption, parsePositiveInt } from './options.js';
import { addPipelineOptions } from './pipeline-options.js';
import { formatsHolding } from '../output/index.js';

export function registerClassify(program: Command): void {
  const cmd = program
    .command('classify')
    .summary('top-k labels for every image')
    .description('Print the top-k labels for every image. Directories are read recursively in sorted order; "-" reads paths from stdin.')
    .argument('<inputs...>', 'image files, directories, or - for paths on stdin')
    .option('-k, --top-k <n>', 'labels per image', parsePositiveInt('--top-k'), 5)
    .addOption(choiceOption('-f, --format <format>', 'output format (default: table on a terminal, jsonl when piped)', formatsHolding('classify')));
  addModelOptions(cmd, { labels: true });
  addImageOptions(cmd);
  addStoreOptions(cmd);
  addPipelineOptions(cmd, { verbose: true });
  addPrecisionOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ backbones classify photos/ -m mobilenet_0.25 -k 3
  $ backbones classify cat.jpg -m resnet50 --format json
  $ find . -name '*.jpg' | backbones classify - -m mobilenet_0.25 -o labels.jsonl --resume
  $ backbones classify img.png --model ./my_model/model.json --labels labels.txt --input-size 224`,
  );
  cmd.action(async (inputs: string[], _opts: unknown, command: Command) => {
    const { runClassify } = await import('../actions/classify.js');
    process.exitCode = await runClassify(inputs, command.optsWithGlobals());
  });
}
