// --to redis://…, --key-prefix, --overwrite: the Redis feature store as the output of
// classify and extract (see src/store/keys.ts for the key scheme).
import { Option, type Command } from 'commander';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';

/** --key-prefix: classify, extract, the queue and store import name keys the same way. */
export function keyPrefixOption(): Option {
  return new Option('--key-prefix <prefix>', 'Redis feature store: first part of every key (<prefix>:<model>:<layer>:<fingerprint>:<path>)').default(DEFAULT_KEY_PREFIX);
}

export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('--to <store>', 'write each result to the Redis feature store at redis://[user:password@]host:port/db (or rediss://), or (extract) each vector to the LanceDB vector store PATH.lance (or s3://, gs://, az:// …/NAME.lance), instead of a file')
    .addOption(keyPrefixOption())
    .option('--overwrite', 'with --resume: start a file made another way again (not with --to redis://: each run spec has its own keys there)');
}
