// What travels on the BullMQ queue and the few keys the queue keeps next to the
// feature store. A job is N image paths plus the run spec queue add resolved (model,
// weights identity, layer, image handling, decoding, precision): a worker loads the model
// and preprocesses the images exactly as `extract` would, on its own engine, and writes
// results to the store under job.prefix. Paths are absolute and must be readable by
// every worker (a shared filesystem).
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
  /** Replace keys that hold a result of another model/layer/pooling. */
  overwrite: boolean;
  /** index: the image's position in the queue's input order (for export). */
  items: { index: number; path: string }[];
}

/** Returned by a finished job (shown by BullMQ tools; counted in the stats hash). */
export interface ExtractJobResult {
  images: number;
  stored: number;
  skipped: number;
  failed: number;
}

/** Keys the queue keeps beside the store, all under <prefix>:queue:<name>:. */
export function queueKeys(prefix: string, queue: string) {
  const base = `${prefix}:queue:${queue}`;
  return {
    /** LIST: every enqueued absolute path, in input order (its position is the item index). */
    paths: `${base}:paths`,
    /** HASH: item index → the store key that holds its result. */
    keys: `${base}:keys`,
    /** HASH: images, stored, failed (counters), first_ms, last_ms (for images/s). */
    stats: `${base}:stats`,
    /** STRING: the spec's fields (JSON ExpectedSpec) its jobs were enqueued with; export compares the results with it. */
    spec: `${base}:spec`,
  };
}
