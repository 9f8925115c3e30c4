// A spec kept with a store's vectors (src/store/stored-spec.ts), and the options that
// resolve it again: paths made absolute, so a query run from another folder finds the
// same model, weights and int8 files (their hashes are in the record and compared).
import path from 'node:path';
import type { StoredSpec } from '../store/stored-spec.js';
import type { Backbone } from '../zoo/backbone.js';
import { recordOf } from './load.js';
import type { RunSpec, SpecOptions } from './types.js';

const isUrl = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
const absolute = (s: string) => (isUrl(s) ? s : path.resolve(s));

/** The options that resolve `spec` again (its task, image handling, precision; not the engine or counts). */
export function reloadOptions(spec: RunSpec): SpecOptions {
  const task = spec.task?.kind === 'extract' ? spec.task : undefined;
  return {
    model: spec.source === 'file' ? absolute(spec.model) : spec.model,
    weights: spec.weights === 'imagenet' || spec.weights === 'random' ? spec.weights : absolute(spec.weights),
    seed: spec.seed,
    ...(spec.alpha !== undefined ? { alpha: spec.alpha } : {}),
    ...(spec.inputSize ? { inputSize: spec.inputSize } : {}),
    ...(spec.preprocess ? { preprocess: spec.preprocess } : {}),
    ...(task ? { ...(task.layer !== undefined ? { layer: task.layer } : {}), pool: task.pool, l2: task.l2 } : {}),
    resize: spec.image.resize,
    interpolation: spec.image.interpolation,
    background: spec.image.background,
    kerasCompat: spec.image.kerasCompat,
    decode: spec.image.decode,
    precision: spec.precision,
    ...(spec.int8?.int8Model ? { int8Model: absolute(spec.int8.int8Model) } : {}),
  };
}

/** What a store records of a run: its spec's record (as the engine ran it) and the options to resolve it again. */
export function storedSpecOf(spec: RunSpec, backbone: Pick<Backbone, 'precision' | 'int8'>): StoredSpec {
  return { record: recordOf(spec, backbone), options: reloadOptions(spec) as Record<string, unknown> };
}
