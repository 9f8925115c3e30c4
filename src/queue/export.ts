// `backbones queue export -o feats.npy|feats.jsonl|feats.csv`: the queue's results
// read back from the store in input order, written by the normal output writers.
// An image without a result (not processed yet, or its job failed) is an error record.
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import { checkOutput, extensionsHolding, formatFromExtension, formatsHolding, writerFor } from '../output/index.js';
import { fileSink } from '../output/sink.js';
import { checkRedisUrl, connectRedis } from '../store/connection.js';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';
import { execOrThrow, RECORD_FIELDS, recordFromHash } from '../store/redis.js';
import { DEFAULT_QUEUE, queueKeys } from './jobs.js';

export interface QueueExportOptions {
  redis: string;
  queue?: string;
  keyPrefix?: string;
  output: string;
  format?: string;
}

const CHUNK = 500;

export async function runQueueExport(o: QueueExportOptions): Promise<number> {
  const format = o.format ?? formatFromExtension(o.output);
  if (!format || !formatsHolding('extract').includes(format)) {
    throw new BackbonesError('E_USAGE', `queue export writes ${extensionsHolding('extract').join(', ')}; cannot tell the format of ${o.output} (pass --format).`);
  }
  checkOutput(format, 'extract', { output: o.output });
  const name = o.queue ?? DEFAULT_QUEUE;
  const keys = queueKeys(o.keyPrefix ?? DEFAULT_KEY_PREFIX, name);
  const { client, where } = await connectRedis(checkRedisUrl(o.redis, '--redis'));
  let rows = 0;
  let missing = 0;
  try {
    const total = await client.llen(keys.paths);
    if (total === 0) throw new BackbonesError('E_NOT_FOUND', `Queue "${name}" at ${where} has no inputs under ${keys.paths} (check --queue and --key-prefix).`);
    const writer = writerFor(format)(fileSink(o.output), { kind: 'extract', colour: false, appending: false, file: o.output, open: (f, opts) => fileSink(f, opts) });
    for (let start = 0; start < total; start += CHUNK) {
      const paths = await client.lrange(keys.paths, start, start + CHUNK - 1);
      const indexes = paths.map((_, i) => String(start + i));
      const storeKeys = await client.hmget(keys.keys, ...indexes);
      const pipe = client.pipeline();
      for (const k of storeKeys) if (k) pipe.hmgetBuffer(k, ...RECORD_FIELDS);
      const replies = (await execOrThrow(pipe)) as (Buffer | null)[][];
      let r = 0;
      paths.forEach((p, i) => {
        const values = storeKeys[i] ? replies[r++]! : null;
        const record = values && values.some((v) => v !== null)
          ? recordFromHash(Object.fromEntries(RECORD_FIELDS.map((f, j) => [f, values[j] ?? null])), p)
          : { path: p, error: 'no result in the store yet (not processed, or its job failed)' };
        if ('error' in record) missing += 1;
        else rows += 1;
        writer.write(record);
      });
    }
    await writer.close();
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
  log.info(`exported ${rows} row${rows === 1 ? '' : 's'} in input order to ${o.output}${missing > 0 ? `; ${missing} input${missing === 1 ? '' : 's'} without a vector (failed, or not processed yet)` : ''}`);
  return missing > 0 ? 3 : 0;
}
