// What travels on the BullMQ queue and the few keys the queue keeps next to the
// feature store. A job is N image paths plus everything a worker needs to load the
// model and preprocess the images exactly as `extract` would; workers write results
// to the store under job.prefix. Paths are absolute and must be readable by every
// worker (a shared filesystem).
import type { ModelSelection } from '../zoo/load.js';
import type { Interpolation, ResizeMode } from '../images/resize.js';
import type { Pooling } from '../zoo/card.js';

export const DEFAULT_QUEUE = 'backbones';
export const JOB_NAME = 'extract';

export interface ExtractJobData {
  /** Feature store key prefix. */
  prefix: string;
  model: string;
  /** The model options (weights, alpha, input size, preprocess, seed); the worker's own --cache-dir applies. */
  selection: Omit<ModelSelection, 'cacheDir'>;
  /** undefined: the model card's feature layer. */
  layer?: string;
  pool: Pooling;
  l2: boolean;
  image: { resize?: ResizeMode; interpolation?: Interpolation; background: string; kerasCompat: boolean };
  batchSize: number;
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
  };
}
