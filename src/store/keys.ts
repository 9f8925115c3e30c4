// The feature store's key scheme (stable, documented in docs/redis-queue.md):
//
//   <prefix>:<model>:<layer>:<run spec fingerprint>:<absolute image path>
//
// One keyspace per model, layer and run spec: results made differently never share a key,
// and the path is the key's tail (not a hash field: a field costs ~64-80 B per image,
// bench/redis-memory.ts). Paths may hold ':', so a key is read back by stripping its
// keyspace, never by splitting. classify stores its predictions under the layer name
// "classify". A run also lists its keys, in input order, in the list <prefix>:run:<run id>,
// and adds the run id to the sorted set <prefix>:runs (score: start time in ms).
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export const DEFAULT_KEY_PREFIX = 'backbones';
/** The layer name in classify keys. */
export const CLASSIFY_LAYER = 'classify';

/** What every key of one model and layer starts with, whatever the run spec: <prefix>:<model>:<layer>: */
export function layerKeyspace(prefix: string, model: string, layer: string): string {
  return `${prefix}:${model}:${layer}:`;
}

/** What every key of one model, layer and run spec starts with: <prefix>:<model>:<layer>:<fingerprint>: */
export function storeKeyspace(prefix: string, model: string, layer: string, fingerprint: string): string {
  return `${layerKeyspace(prefix, model, layer)}${fingerprint}:`;
}

/** The key of an image in a keyspace (storeKeyspace): the keyspace, then the absolute path. */
export function storeKey(keyspace: string, imagePath: string): string {
  return `${keyspace}${path.resolve(imagePath)}`;
}

/** The absolute image path a key of this keyspace names (null: not one of its keys). */
export function pathOfKey(keyspace: string, key: string): string | null {
  return key.startsWith(keyspace) && key.length > keyspace.length ? key.slice(keyspace.length) : null;
}

/** A run id that sorts by time: 20261202T114500Z-3f9a1c. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

export const runListKey = (prefix: string, runId: string) => `${prefix}:run:${runId}`;
export const runsKey = (prefix: string) => `${prefix}:runs`;

/** The fields of a run spec and the facts its results share, under its fingerprint (the keyspace's 4th part). */
export const specKey = (prefix: string, fingerprint: string) => `${prefix}:spec:${fingerprint}`;

/** The run spec fingerprint a keyspace names (its last part), or null. */
export function fingerprintOfKeyspace(keyspace: string): string | null {
  return /:([0-9a-f]{16}):$/.exec(keyspace)?.[1] ?? null;
}

/** The run spec fingerprint of a key under a layer's keyspace (layerKeyspace), or null. */
export function fingerprintOfKey(layerspace: string, key: string): string | null {
  return key.startsWith(layerspace) ? fingerprintOfKeyspace(key.slice(0, key.indexOf(':', layerspace.length) + 1)) : null;
}

/** A SCAN MATCH pattern for every key of a keyspace: its glob characters escaped (a model path may hold them). */
export function keyspacePattern(keyspace: string): string {
  return `${keyspace.replace(/[*?[\]\\]/g, '\\$&')}*`;
}
