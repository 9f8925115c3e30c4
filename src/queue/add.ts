// `backbones queue add`: expands the inputs, records them in input order, and
// enqueues jobs of --job-size paths. Nothing is loaded here: the workers load the model.
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { BackbonesError, EXIT } from '../errors.js';
import { log } from '../log.js';
import { expandInputs, parseExtensions } from '../images/inputs.js';
import { checkRedisUrl, connectRedis } from '../store/connection.js';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';
import { resolveSpec, type SpecOptions } from '../spec/spec.js';
import { differences, expectedSpec, type ExpectedSpec } from '../spec/fingerprint.js';
import { DEFAULT_QUEUE, DEFAULT_REMOVE_ON_COMPLETE, DEFAULT_REMOVE_ON_FAIL, JOB_NAME, parseRetention, queueKeys, type ExtractJobData } from './jobs.js';

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
  /** Enqueue paths the queue already holds again (the workers skip the stored ones). */
  force?: boolean;
  /** BullMQ's removeOnComplete / removeOnFail, as parseRetention reads them. */
  removeOnComplete?: string;
  removeOnFail?: string;
  format?: string;
}

export async function runQueueAdd(inputs: string[], o: QueueAddOptions): Promise<number> {
  const url = checkRedisUrl(o.redis, '--redis');
  const name = o.queue ?? DEFAULT_QUEUE;
  const prefix = o.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const removeOnComplete = parseRetention(o.removeOnComplete ?? DEFAULT_REMOVE_ON_COMPLETE, '--remove-on-complete');
  const removeOnFail = parseRetention(o.removeOnFail ?? DEFAULT_REMOVE_ON_FAIL, '--remove-on-fail');
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
  let sameSpec = true;
  if (recorded) {
    const before = JSON.parse(recorded) as ExpectedSpec;
    const diff = differences(before.fields, expected.fields, [...(before.pending ?? []), ...(expected.pending ?? [])]);
    sameSpec = diff.length === 0;
    if (!sameSpec && !o.overwrite) {
      await queue.close();
      await client.quit().catch(() => client.disconnect());
      throw new BackbonesError('E_USAGE', `Queue "${name}" at ${where} holds jobs made another way (${diff.join('; ')}); use another --queue, or --overwrite to enqueue these anyway (queue export then refuses results made the earlier way).`);
    }
  }
  // A path is in the queue once: a re-add of the same spec enqueues only new paths (--force: all,
  // under their first index, so export still has one row each); another spec (--overwrite) redoes them.
  const queued = await positions(client, keys.paths);
  const given = [...new Set(readable.map((e) => path.resolve(e.path)))];
  const fresh = given.filter((p) => !queued.has(p));
  const again = given.filter((p) => queued.has(p)).map((p) => ({ index: queued.get(p)!, path: p }));
  const redo = !sameSpec || Boolean(o.force);
  const doneAlready = again.length > 0 && !redo ? await countBits(client, keys.done, again.map((it) => it.index)) : 0;
  await client.set(keys.spec, JSON.stringify(expected));
  // Each worker reads weights from its own --cache-dir, not from this machine's.
  const { cacheDir: _here, ...jobSpec } = spec;
  const template: Omit<ExtractJobData, 'items'> = { prefix, spec: jobSpec, expected };
  const options = { attempts: o.attempts, backoff: { type: 'exponential', delay: o.backoff }, removeOnComplete, removeOnFail };
  let jobs = 0;
  let images = 0;
  try {
    if (redo && again.length > 0) {
      // Made another way: not done for this spec until a worker redoes them.
      if (!sameSpec) {
        const pipe = client.pipeline();
        for (const it of again) pipe.setbit(keys.done, it.index, 0).setbit(keys.failed, it.index, 0);
        await pipe.exec();
      }
      for (let start = 0; start < again.length; start += o.jobSize) {
        await queue.add(JOB_NAME, { ...template, items: again.slice(start, start + o.jobSize) }, options);
        jobs += 1;
      }
      images += again.length;
    }
    for (let start = 0; start < fresh.length; start += o.jobSize) {
      const paths = fresh.slice(start, start + o.jobSize);
      // RPUSH is atomic: its new length gives this chunk's indexes even when several adds run at once.
      const length = await client.rpush(keys.paths, ...paths);
      const first = length - paths.length;
      await queue.add(JOB_NAME, { ...template, items: paths.map((p, i) => ({ index: first + i, path: p })) }, options);
      jobs += 1;
    }
    images += fresh.length;
  } finally {
    await queue.close();
    await client.quit().catch(() => client.disconnect());
  }
  const skipped = redo ? 0 : again.length;
  if (o.format === 'json') process.stdout.write(JSON.stringify({ queue: name, prefix, images, jobs, alreadyQueued: skipped, alreadyDone: doneAlready }) + '\n');
  if (skipped > 0) {
    log.info(`${skipped} image${skipped === 1 ? ' was' : 's were'} already in queue "${name}" (${doneAlready} done) and ${skipped === 1 ? 'is' : 'are'} not enqueued again; --force enqueues them again (workers skip the stored ones)`);
  }
  log.info(`enqueued ${images} image${images === 1 ? '' : 's'} in ${jobs} job${jobs === 1 ? '' : 's'} on queue "${name}" at ${where} (results under ${prefix}:)`);
  return entries.length > readable.length ? EXIT.partial : EXIT.ok;
}

/** Each path the list holds → its first position. */
async function positions(client: Redis, key: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const CHUNK = 10_000;
  for (let start = 0; ; start += CHUNK) {
    const chunk = await client.lrange(key, start, start + CHUNK - 1);
    chunk.forEach((p, i) => {
      if (!out.has(p)) out.set(p, start + i);
    });
    if (chunk.length < CHUNK) return out;
  }
}

/** How many of these bits are set. */
async function countBits(client: Redis, key: string, indexes: number[]): Promise<number> {
  const pipe = client.pipeline();
  for (const i of indexes) pipe.getbit(key, i);
  const replies = (await pipe.exec()) ?? [];
  return replies.filter(([, v]) => v === 1).length;
}
