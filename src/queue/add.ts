// `backbones queue add`: expands the inputs, records them in input order, and
// enqueues jobs of --job-size paths. Nothing is loaded here: the workers load the model.
import path from 'node:path';
import { Queue } from 'bullmq';
import { BackbonesError, EXIT } from '../errors.js';
import { log } from '../log.js';
import { expandInputs, parseExtensions } from '../images/inputs.js';
import { checkRedisUrl, connectRedis } from '../store/connection.js';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';
import { resolveSpec, type SpecOptions } from '../spec/spec.js';
import { differences, expectedSpec, type ExpectedSpec } from '../spec/fingerprint.js';
import { DEFAULT_QUEUE, JOB_NAME, queueKeys, type ExtractJobData } from './jobs.js';

/** queue add: the spec's options (an extract task) and where and how jobs are enqueued. */
export interface QueueAddOptions extends SpecOptions {
  redis: string;
  queue?: string;
  keyPrefix?: string;
  ext: string;
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
  // Every check before a job is enqueued; the files the spec names are hashed here
  // (the workers must see them under the same paths, like the images).
  const spec = await resolveSpec(o, { task: 'extract' });
  const expected = expectedSpec(spec);
  const entries = await expandInputs(inputs, { extensions: parseExtensions(o.ext) });
  const readable = entries.filter((e) => !e.error);
  for (const e of entries) if (e.error) log.warn(`${e.path}: ${e.error} (not enqueued)`);
  if (readable.length === 0) throw new BackbonesError('E_NOT_FOUND', 'No images to enqueue.');
  const { client, where } = await connectRedis(url);
  const queue = new Queue(name, { connection: client });
  const keys = queueKeys(prefix, name);
  // One queue, one spec: queue export writes its results as one file.
  const recorded = await client.get(keys.spec).catch(() => null);
  if (recorded) {
    const before = JSON.parse(recorded) as ExpectedSpec;
    const diff = differences(before.fields, expected.fields, [...(before.pending ?? []), ...(expected.pending ?? [])]);
    if (diff.length > 0 && !o.overwrite) {
      await queue.close();
      await client.quit().catch(() => client.disconnect());
      throw new BackbonesError('E_USAGE', `Queue "${name}" at ${where} holds jobs made another way (${diff.join('; ')}); use another --queue, or --overwrite to enqueue these anyway (queue export then refuses results made the earlier way).`);
    }
  }
  await client.set(keys.spec, JSON.stringify(expected));
  // Each worker reads weights from its own --cache-dir, not from this machine's.
  const { cacheDir: _here, ...jobSpec } = spec;
  const template: Omit<ExtractJobData, 'items'> = { prefix, spec: jobSpec, expected, overwrite: Boolean(o.overwrite) };
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
  return entries.length > readable.length ? EXIT.partial : EXIT.ok;
}
