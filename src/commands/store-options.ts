// --to redis://…, --key-prefix, --overwrite: the Redis feature store as the output of
// classify and extract (see src/store/redis.ts for the key scheme).
import type { Command } from 'commander';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';

export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('--to <url>', 'write each result to the Redis feature store at redis://[user:password@]host:port/db (or rediss://), or (extract) each vector to the LanceDB vector store PATH.lance (or s3://, gs://, az:// …/NAME.lance), instead of a file')
    .option('--key-prefix <prefix>', 'with --to: first part of every key (<prefix>:<model>:<layer>:<sha1 of path>)', DEFAULT_KEY_PREFIX)
    .option('--overwrite', 'with --to: replace keys that hold a result made another way; with --resume: start a file made another way again');
}
