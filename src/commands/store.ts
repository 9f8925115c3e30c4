// `backbones store import SOURCE --to STORE` and `backbones store index STORE`: the vector store.
import type { Command } from 'commander';
import { addImageHandlingOptions, addModelOptions, choiceOption } from './options.js';
import { POOLINGS } from '../zoo/card.js';
import { keyPrefixOption } from './store-options.js';
import { DEFAULT_INDEX_KIND, INDEX_KINDS, INDEX_THRESHOLD } from '../store/lance.js';

export function registerStore(program: Command): void {
  const store = program.command('store').summary('the LanceDB vector store: import vectors, build the ANN index').description('The LanceDB vector store that extract --to PATH.lance writes and search, dedup and serve --search read.');
  const imp = store
    .command('import')
    .summary('copy an earlier run (.npy, .jsonl, Redis) into a store without recomputing')
    .description(
      'Copy vectors an earlier extract wrote (FILE.npy with FILE.npy.paths.jsonl, an extract JSONL, or the Redis feature store at redis://…) into a vector store. Pass the model options that made them (-m, --weights, --layer, --pool, --l2, image options): the store records them, and what the source records itself must agree. Paths already in the store are skipped.',
    )
    .argument('<source>', 'FILE.npy, FILE.jsonl or redis://host:port/db')
    .requiredOption('--to <store>', 'the vector store PATH.lance (or s3://, gs://, az:// …/NAME.lance)')
    .option('-l, --layer <name>', "the layer that made the vectors (default: the model card's feature layer)")
    .addOption(choiceOption('--pool <kind>', 'the pooling that made the vectors', POOLINGS, 'none'))
    .option('--l2', 'the vectors were L2-normalised')
    .addOption(keyPrefixOption());
  addModelOptions(imp);
  addImageHandlingOptions(imp);
  imp.addHelpText(
    'after',
    `
Examples:
  $ backbones store import features.npy --to photos.lance -m resnet50 --layer avg_pool
  $ backbones store import redis://localhost:6379/0 --to photos.lance -m mobilenet`,
  );
  imp.action(async (source: string, _opts: unknown, command: Command) => {
    const { runStoreImport } = await import('../actions/store-import.js');
    process.exitCode = await runStoreImport(source, command.optsWithGlobals());
  });
  store
    .command('index')
    .summary('build (or rebuild) the ANN index of a store')
    .description(`Build the approximate-nearest-neighbour index that search uses instead of comparing every vector (built automatically from ${INDEX_THRESHOLD} rows on).`)
    .argument('<store>', 'the vector store PATH.lance (or an object-store URI)')
    .addOption(choiceOption('--kind <kind>', 'index type: IVF-PQ, or IVF partitions with HNSW graphs over scalar-quantized vectors', INDEX_KINDS, DEFAULT_INDEX_KIND))
    .action(async (value: string, _opts: unknown, command: Command) => {
      const { runStoreIndex } = await import('../actions/store-import.js');
      process.exitCode = await runStoreIndex(value, command.optsWithGlobals());
    });
}
