// The feature store's key scheme (stable, documented in docs/redis-queue.md):
//
//   <prefix>:<model>:<layer>:<sha1 of the absolute image path, hex>
//
// classify stores its predictions under the layer name "classify". A run also lists
// its keys, in input order, in the list <prefix>:run:<run id>, and adds the run id to
// the sorted set <prefix>:runs (score: start time in ms) so consumers can find them.
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';

export const DEFAULT_KEY_PREFIX = 'backbones';
/** The layer name in classify keys. */
export const CLASSIFY_LAYER = 'classify';

export function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

/** The key of one image's result: <prefix>:<model>:<layer>:<sha1(absolute path)>. */
export function storeKey(prefix: string, model: string, layer: string, imagePath: string): string {
  return keyInSpace(storeKeyspace(prefix, model, layer), imagePath);
}

/** What every key of one model and layer starts with: <prefix>:<model>:<layer>: */
export function storeKeyspace(prefix: string, model: string, layer: string): string {
  return `${prefix}:${model}:${layer}:`;
}

/** The key of an image in a keyspace (storeKeyspace). */
export function keyInSpace(keyspace: string, imagePath: string): string {
  return `${keyspace}${sha1Hex(path.resolve(imagePath))}`;
}

/** A run id that sorts by time: 20261202T114500Z-3f9a1c. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

export const runListKey = (prefix: string, runId: string) => `${prefix}:run:${runId}`;
export const runsKey = (prefix: string) => `${prefix}:runs`;

/** The fields of a run spec, under its fingerprint: what a result's `spec` field refers to. */
export const specKey = (prefix: string, fingerprint: string) => `${prefix}:spec:${fingerprint}`;
