// `backbones queue status`: BullMQ's job counts, images done and images/s from the
// queue's stats hash, and the reason of each failed job.
import { Chalk } from 'chalk';
import { Queue } from 'bullmq';
import { checkRedisUrl, connectRedis } from '../store/connection.js';
import { DEFAULT_KEY_PREFIX } from '../store/keys.js';
import { colorLevelFor } from '../log.js';
import { DEFAULT_QUEUE, queueKeys, type ExtractJobData } from './jobs.js';

export interface QueueStatusOptions {
  redis: string;
  queue?: string;
  keyPrefix?: string;
  format?: string;
}

export interface QueueStatus {
  queue: string;
  jobs: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  images: { enqueued: number; done: number; stored: number; failed: number };
  /** Images per second between the first job's start and the last write; null before any. */
  imagesPerSecond: number | null;
  failedJobs: { id: string; images: number; attempts: number; reason: string }[];
}

export async function queueStatus(o: QueueStatusOptions): Promise<QueueStatus> {
  const name = o.queue ?? DEFAULT_QUEUE;
  const keys = queueKeys(o.keyPrefix ?? DEFAULT_KEY_PREFIX, name);
  const { client } = await connectRedis(checkRedisUrl(o.redis, '--redis'));
  const queue = new Queue<ExtractJobData>(name, { connection: client });
  try {
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'paused');
    const [stats, enqueued, failed] = await Promise.all([client.hgetall(keys.stats), client.llen(keys.paths), queue.getFailed(0, 19)]);
    const n = (k: string) => Number(stats[k] ?? 0);
    const seconds = (n('last_ms') - n('first_ms')) / 1000;
    return {
      queue: name,
      jobs: {
        waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.paused ?? 0),
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
      },
      images: { enqueued, done: n('images'), stored: n('stored'), failed: n('failed') },
      imagesPerSecond: n('images') > 0 && seconds > 0 ? n('images') / seconds : null,
      failedJobs: failed.map((j) => ({ id: String(j.id), images: j.data.items?.length ?? 0, attempts: j.attemptsMade, reason: j.failedReason })),
    };
  } finally {
    await queue.close();
    await client.quit().catch(() => client.disconnect());
  }
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
    `${c.bold('jobs')}   waiting ${s.jobs.waiting}  active ${s.jobs.active}  delayed ${s.jobs.delayed}  completed ${c.green(s.jobs.completed)}  failed ${s.jobs.failed > 0 ? c.red(s.jobs.failed) : 0}`,
    `${c.bold('images')} enqueued ${s.images.enqueued}  done ${s.images.done} (stored ${s.images.stored}, failed ${s.images.failed})  ${rate} img/s`,
    ...s.failedJobs.map((j) => `${c.red('failed')} job ${j.id} (${j.images} images, ${j.attempts} attempts): ${j.reason}`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
