// `backbones queue add`: expands the inputs, records them in input order, and
// enqueues jobs of --job-size paths. Nothing is loaded here: the workers load the model.
import type { ImageHandlingOptions } from '../pipeline/decode-one.js';
import path from 'node:path';
import { Queue } from 'bullmq';
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import { expandInputs, parseExtensions } from '../images/inputs.js';
import { checkRedisUrl, connectRedis } from '../store/connection.js';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';
import { modelSelection, type ModelSelection } from '../zoo/load.js';
import { isKnownModel, unknownModelError } from '../zoo/registry.js';
import type { Pooling } from '../zoo/card.js';
import { DEFAULT_QUEUE, JOB_NAME, queueKeys, type ExtractJobData } from './jobs.js';

export interface QueueAddOptions extends ModelSelection, ImageHandlingOptions {
  redis: string;
  queue?: string;
  keyPrefix?: string;
  model: string;
  layer?: string;
  pool: Pooling;
  l2?: boolean;
  ext: string;
  batchSize: number;
  jobSize: number;
  attempts: number;
  backoff: number;
  overwrite?: boolean;
  format?: string;
}

export async function runQueueAdd(inputs: string[], o: QueueAddOptions): Promise<number> {
  const url = checkRedisUrl(o.redis, '--redis');
  const name = o.queue ?? DEFAULT_QUEUE;
  const prefix = o.keyPrefix ?? DEFAULT_KEY_PREFIX;
  // A typo in a zoo name fails here, not in every worker (a path is the workers' to read).
  if (!isKnownModel(o.model)) {
    throw unknownModelError(o.model);
  }
  const entries = await expandInputs(inputs, { extensions: parseExtensions(o.ext) });
  const readable = entries.filter((e) => !e.error);
  for (const e of entries) if (e.error) log.warn(`${e.path}: ${e.error} (not enqueued)`);
  if (readable.length === 0) throw new BackbonesError('E_NOT_FOUND', 'No images to enqueue.');
  const { client, where } = await connectRedis(url);
  const queue = new Queue(name, { connection: client });
  const keys = queueKeys(prefix, name);
  const { cacheDir: _workersUseTheirOwn, ...selection } = modelSelection(o);
  const template: Omit<ExtractJobData, 'items'> = {
    prefix,
    model: o.model,
    selection,
    layer: o.layer,
    pool: o.pool,
    l2: Boolean(o.l2),
    image: { resize: o.resize, interpolation: o.interpolation, background: o.background, kerasCompat: Boolean(o.kerasCompat) },
    batchSize: o.batchSize,
    overwrite: Boolean(o.overwrite),
  };
  let jobs = 0;
  try {
    for (let start = 0; start < readable.length; start += o.jobSize) {
      const paths = readable.slice(start, start + o.jobSize).map((e) => path.resolve(e.path));
      // RPUSH is atomic: its new length gives this chunk's indexes even when several adds run at once.
      const length = await client.rpush(keys.paths, ...paths);
      const first = length - paths.length;
      const data: ExtractJobData = { ...template, items: paths.map((p, i) => ({ index: first + i, path: p })) };
      await queue.add(JOB_NAME, data, { attempts: o.attempts, backoff: { type: 'exponential', delay: o.backoff } });
      jobs += 1;
    }
  } finally {
    await queue.close();
    await client.quit().catch(() => client.disconnect());
  }
  if (o.format === 'json') process.stdout.write(JSON.stringify({ queue: name, prefix, images: readable.length, jobs }) + '\n');
  log.info(`enqueued ${readable.length} image${readable.length === 1 ? '' : 's'} in ${jobs} job${jobs === 1 ? '' : 's'} on queue "${name}" at ${where} (results under ${prefix}:)`);
  return entries.length > readable.length ? 3 : 0;
}
