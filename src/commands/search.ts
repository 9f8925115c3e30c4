// `backbones search QUERY… --in STORE`: nearest stored images by cosine similarity.
import type { Command } from 'commander';
import { batchSizeOption, choiceOption, parsePositiveInt, vectorStoreInOption } from './options.js';
import { ROW_FORMATS } from '../search/rows.js';
import type { SearchOptions } from '../actions/search.js';

export function registerSearch(program: Command): void {
  const cmd = program
    .command('search')
    .summary('nearest images in a vector store')
    .description(
      'For each query (an image file, extracted exactly as the store was, or a path already in the store), print the k most similar stored images by cosine similarity. Exact below the store\'s ANN index; with one, approximate (--exact compares every vector).',
    )
    .argument('<queries...>', 'image files or paths stored in the store')
    .addOption(vectorStoreInOption().makeOptionMandatory())
    .option('-k, --top-k <n>', 'results per query', parsePositiveInt('--top-k'), 10)
    .option('--exact', 'compare with every vector even when the store has an ANN index')
    .addOption(batchSizeOption())
    .addOption(choiceOption('-f, --format <format>', 'output format (default: table on a terminal, jsonl when piped)', ROW_FORMATS));
  cmd.addHelpText(
    'after',
    `
Examples:
  $ backbones extract photos/ -m mobilenet_0.25 --to photos.lance
  $ backbones search query.jpg --in photos.lance -k 5
  $ backbones search photos/cat.jpg --in photos.lance --format csv`,
  );
  cmd.action(async (queries: string[], _opts: unknown, command: Command) => {
    const { runSearch } = await import('../actions/search.js');
    const o = command.optsWithGlobals();
    process.exitCode = await runSearch(queries, { ...(o as Omit<SearchOptions, 'k'>), k: o.topK as number });
  });
}
