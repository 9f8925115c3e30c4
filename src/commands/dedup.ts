// `backbones dedup --in STORE` or `backbones dedup INPUTS…`: groups of near-duplicate images.
import { InvalidArgumentError, type Command } from 'commander';
import { addExtensionOption, addImageHandlingOptions, addModelOptions, batchSizeOption, choiceOption, vectorStoreInOption } from './options.js';
import { ROW_FORMATS } from '../search/rows.js';

function parseThreshold(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError('a cosine similarity in (0, 1], e.g. 0.9');
  return n;
}

export function registerDedup(program: Command): void {
  const cmd = program
    .command('dedup')
    .summary('groups of near-duplicate images, with a suggested keeper')
    .description(
      'Group near-duplicate images: every pair with cosine similarity at or above the threshold is joined, and joined pairs merge transitively. Each group names a suggested keeper (largest pixel count, then oldest). Reads a vector store (--in) or extracts image folders first (the model card\'s feature layer). Never deletes or moves files.',
    )
    .argument('[inputs...]', 'image files or directories (instead of --in)')
    .addOption(vectorStoreInOption())
    .option('-t, --threshold <cosine>', "cosine similarity that makes two images duplicates (default: the model card's measured value)", parseThreshold)
    .addOption(choiceOption('-f, --format <format>', 'output format (default: table on a terminal, jsonl when piped): jsonl and json give a group per record with its members and pairs, csv and table a row per member', ROW_FORMATS))
    .addOption(batchSizeOption());
  addModelOptions(cmd);
  addImageHandlingOptions(addExtensionOption(cmd));
  cmd.addHelpText(
    'after',
    `
Examples:
  $ backbones dedup photos/ -m mobilenet_0.25
  $ backbones dedup --in photos.lance --threshold 0.85 --format csv > groups.csv`,
  );
  cmd.action(async (inputs: string[], _opts: unknown, command: Command) => {
    const { runDedup } = await import('../actions/dedup.js');
    process.exitCode = await runDedup(inputs, command.optsWithGlobals());
  });
}
