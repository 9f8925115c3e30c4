// What travels on the BullMQ queue and the few keys the queue keeps next to the
// feature store. A job is N image paths plus the run spec queue add resolved (model,
// weights identity, layer, image handling, decoding, precision): a worker loads the model
// and preprocesses the images exactly as `extract` would, on its own engine, and writes
// results to the store under job.prefix. Paths are absolute and must be readable by
// every worker (a shared filesystem).
import type { KeepJobs } from 'bullmq';
import type { Redis } from 'ioredis';
import { BackbonesError } from '../errors.js';
import type { RunSpec } from '../spec/spec.js';
import type { ExpectedSpec } from '../output/spec-record.js';

export const DEFAULT_QUEUE = 'backbones';
export const JOB_NAME = 'extract';

export interface ExtractJobData {
  /** Feature store key prefix. */
  prefix: string;
  /** The run spec (an extract task); the worker's own engine options and --cache-dir apply. */
  spec: RunSpec;
  /** Its fingerprint fields as queue add knew them (the int8 model a worker picks is pending). */
  expected: ExpectedSpec;
  /** index: the image's position in the queue's input order (for export). */
  items: { index: number; path: string }[];
}

/** Returned by a finished job (shown by BullMQ tools as its return value). */
export interface ExtractJobResult {
  images: number;
  stored: number;
  skipped: number;
  failed: number;
}

/**
 * What BullMQ keeps of finished jobs (each holds its paths and the spec): completed ones
 * only for dashboards' history (the results are in the store, the counts in the stats
 * hash), failed ones longer, for their reasons and a retry.
 */
export const DEFAULT_REMOVE_ON_COMPLETE = '100,1d';
export const DEFAULT_REMOVE_ON_FAIL = '7d';

const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A retention (--remove-on-complete/--remove-on-fail) as BullMQ's removeOnComplete/removeOnFail:
 * `now` (remove at once), `never` (keep all), or a count of newest jobs to keep and/or an age
 * (`1000`, `7d`, `1000,7d`).
 */
export function parseRetention(value: string, flag: string): boolean | KeepJobs {
  const v = value.trim().toLowerCase();
  if (v === 'now') return true;
  if (v === 'never') return false;
  let count: number | undefined;
  let age: number | undefined;
  for (const part of v.split(',').map((x) => x.trim())) {
    const m = part.match(/^(\d+)([smhd])$/);
    if (/^\d+$/.test(part) && count === undefined) count = Number(part);
    else if (m && age === undefined) age = Number(m[1]) * SECONDS[m[2]!]!;
    else throw new BackbonesError('E_USAGE', `${flag} takes now, never, a number of jobs to keep, an age (30m, 24h, 7d) or both (1000,7d). Received: ${value}`);
  }
  return age !== undefined ? { age, ...(count !== undefined ? { count } : {}) } : { count: count! };
}

/** The job's progress as BullMQ dashboards draw it: bull-board draws a number as "N%" (an integer, 100 only when all are done). */
export function progressPercent(done: number, total: number): number {
  return total === 0 ? 100 : Math.floor((100 * done) / total);
}

/** Where the workers stored a queue's results (the keyspace of their run spec), or null before any. */
export async function keyspaceOf(client: Redis, keys: ReturnType<typeof queueKeys>): Promise<string | null> {
  return client.get(keys.keyspace);
}

/** "Queue … has no inputs": export and status say the same when --queue or --key-prefix names nothing. */
export function noInputs(name: string, where: string, keys: ReturnType<typeof queueKeys>): BackbonesError {
  return new BackbonesError('E_NOT_FOUND', `Queue "${name}" at ${where} has no inputs under ${keys.paths} (check --queue and --key-prefix).`);
}

/** Keys the queue keeps beside the store, all under <prefix>:queue:<name>:. */
export function queueKeys(prefix: string, queue: string) {
  const base = `${prefix}:queue:${queue}`;
  return {
    /** LIST: every enqueued absolute path, once, in input order (its position is the item index). */
    paths: `${base}:paths`,
    /** BITMAP: bit <index> set once the image has a record in the store (a vector or an error); its count is "done". */
    done: `${base}:done`,
    /** BITMAP: bit <index> set while the image's record is an error. */
    failed: `${base}:failed`,
    /** STRING: <prefix>:<model>:<layer>:<fingerprint>: where the workers store: an image's key is this plus its path. */
    keyspace: `${base}:keyspace`,
    /** HASH: first_ms, last_ms (for images/s). */
    stats: `${base}:stats`,
    /** STRING: the spec's fields (JSON ExpectedSpec) its jobs were enqueued with; export compares the results with it. */
    spec: `${base}:spec`,
  };
}
