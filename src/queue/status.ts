// `backbones queue status`: BullMQ's job counts (stalled apart from active), images done
// (the queue's done/failed bits) and images/s, and the reason of each failed job.
import { Chalk } from 'chalk';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { checkRedisUrl, connectRedis } from '../store/connection.js';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';
import { colorLevelFor } from '../log.js';
import { DEFAULT_QUEUE, noInputs, queueKeys, type ExtractJobData } from './jobs.js';

export interface QueueStatusOptions {
  redis: string;
  queue?: string;
  keyPrefix?: string;
  format?: string;
}

export interface QueueStatus {
  queue: string;
  /** active: running on a live worker; stalled: active, but its worker stopped renewing the lock (dead or stuck): the stall check gives it to another worker. completed/failed: the ones retention keeps. */
  jobs: { waiting: number; active: number; stalled: number; delayed: number; completed: number; failed: number };
  images: { enqueued: number; done: number; stored: number; failed: number };
  /** Images per second between the first job's start and the last write; null before any. */
  imagesPerSecond: number | null;
  failedJobs: { id: string; images: number; attempts: number; reason: string }[];
}

export async function queueStatus(o: QueueStatusOptions): Promise<QueueStatus> {
  const name = o.queue ?? DEFAULT_QUEUE;
  const keys = queueKeys(o.keyPrefix ?? DEFAULT_KEY_PREFIX, name);
  const { client, where } = await connectRedis(checkRedisUrl(o.redis, '--redis'));
  const queue = new Queue<ExtractJobData>(name, { connection: client });
  try {
    const enqueued = await client.llen(keys.paths);
    if (enqueued === 0) throw noInputs(name, where, keys);
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'paused');
    const [stats, done, failedImages, failed, stalled] = await Promise.all([client.hgetall(keys.stats), client.bitcount(keys.done), client.bitcount(keys.failed), queue.getFailed(0, 19), stalledJobs(queue, client)]);
    const n = (k: string) => Number(stats[k] ?? 0);
    const seconds = (n('last_ms') - n('first_ms')) / 1000;
    return {
      queue: name,
      jobs: {
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.paused ?? 0),
        active: (counts.active ?? 0) - stalled,
        stalled,
        delayed: counts.delayed ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
      },
      images: { enqueued, done, stored: done - failedImages, failed: failedImages },
      imagesPerSecond: done > 0 && seconds > 0 ? done / seconds : null,
      failedJobs: failed.map((j) => ({ id: String(j.id), images: j.data.items?.length ?? 0, attempts: j.attemptsMade, reason: j.failedReason })),
    };
  } finally {
    await queue.close();
    await client.quit().catch(() => client.disconnect());
  }
}

/**
 * Active jobs whose lock is gone: a live worker renews it every lockDuration/2, so a missing
 * lock means its worker died or hangs. BullMQ moves such a job back at its next stall check;
 * until then it is listed as active.
 */
async function stalledJobs(queue: Queue, client: Redis): Promise<number> {
  const ids = await client.lrange(queue.keys.active, 0, -1);
  if (ids.length === 0) return 0;
  const pipe = client.pipeline();
  for (const id of ids) pipe.exists(`${queue.toKey(id)}:lock`);
  const replies = (await pipe.exec()) ?? [];
  return replies.filter(([, v]) => v === 0).length;
}

export async function runQueueStatus(o: QueueStatusOptions): Promise<number> {
  const s = await queueStatus(o);
  if (o.format === 'json') {
    process.stdout.write(JSON.stringify(s) + '\n');
    return 0;
  }
  const c = new Chalk({ level: colorLevelFor(process.stdout) });
  const rate = s.imagesPerSecond === null ? 'n/a' : s.imagesPerSecond.toFixed(1);
  const lines = [
    `${c.bold('queue')} ${s.queue}`,
    `${c.bold('jobs')}   waiting ${s.jobs.waiting}  active ${s.jobs.active}  ${s.jobs.stalled > 0 ? c.yellow(`stalled ${s.jobs.stalled}`) : 'stalled 0'}  delayed ${s.jobs.delayed}  completed ${c.green(s.jobs.completed)}  failed ${s.jobs.failed > 0 ? c.red(s.jobs.failed) : 0}`,
    `${c.bold('images')} enqueued ${s.images.enqueued}  done ${s.images.done} (stored ${s.images.stored}, failed ${s.images.failed})  ${rate} img/s`,
    ...s.failedJobs.map((j) => `${c.red('failed')} job ${j.id} (${j.images} images, ${j.attempts} attempts): ${j.reason}`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
