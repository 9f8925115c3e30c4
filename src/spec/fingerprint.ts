// The fingerprint of a run spec: the fields that change the numbers a run writes (model,
// weights identity, input, preprocessing, task, image handling, precision and the int8
// model's identity), each as a string, and a short hash over them. It is recorded with
// every result (output files' FILE.spec.json, the Redis store's keys, the queue job,
// int8 model metadata, serve's model metadata) and compared by --resume, --to redis and
// queue export, which name the fields that differ. The engine (backend, threads) is not
// in it: it changes speed, not what is computed.
//
// Public API (for stores that keep results): specFields(spec), fingerprintOf(fields),
// specRecord(spec), differences(recorded, current).
import { createHash } from 'node:crypto';
import type { ExpectedSpec, SpecFields, SpecRecord } from '../output/spec-record.js';
import type { RunSpec } from './types.js';

export { differences, type ExpectedSpec, type SpecFields, type SpecRecord } from '../output/spec-record.js';

/** What the spec does not know before the model is prepared: the precision that runs (fp32 when auto fell back) and its int8 model (sha256:…). */
export interface Ran {
  precision?: string;
  int8?: string;
}

/** The fields that say which network this is: what an int8 model must have been made from. */
export function networkFields(spec: RunSpec): SpecFields {
  return {
    model: spec.model,
    weights: spec.identity.weights,
    ...(spec.alpha !== undefined ? { alpha: String(spec.alpha) } : {}),
    input: spec.inputSize ? spec.inputSize.join('x') : 'model',
  };
}

/** Every field that changes the numbers, in a fixed order. */
export function specFields(spec: RunSpec, ran: Ran = {}): SpecFields {
  const { image, task } = spec;
  // --keras-compat forces these (images/model-input.ts): record what is applied.
  const resize = image.kerasCompat ? 'squash' : image.resize;
  const interpolation = image.kerasCompat ? 'nearest' : image.interpolation;
  const precision = ran.precision ?? spec.precision;
  const int8 = precision === 'int8' ? (ran.int8 ?? spec.identity.int8) : undefined;
  return {
    ...(task ? { kind: task.kind } : {}),
    ...networkFields(spec),
    preprocess: spec.preprocess ?? 'tf',
    ...(task?.kind === 'classify' ? { labels: spec.identity.labels ?? 'model', labelOffset: String(spec.labelOffset), topK: String(task.topK) } : {}),
    ...(task?.kind === 'extract' ? { layer: task.layer ?? '', pool: task.pool, l2: String(task.l2) } : {}),
    resize,
    interpolation,
    background: image.backgroundRgb,
    kerasCompat: String(image.kerasCompat),
    decode: image.decode,
    precision,
    ...(int8 !== undefined ? { int8 } : {}),
  };
}

/** 16 hex digits of sha256 over the fields in order. */
export function fingerprintOf(fields: SpecFields): string {
  return createHash('sha256').update(JSON.stringify(Object.entries(fields))).digest('hex').slice(0, 16);
}

export function specRecord(spec: RunSpec, ran: Ran = {}): SpecRecord {
  const fields = specFields(spec, ran);
  return { fingerprint: fingerprintOf(fields), fields };
}

/** The spec before the engine has the model: its int8 model is pending when --int8-model did not name it. */
export function expectedSpec(spec: RunSpec): ExpectedSpec {
  const fields = specFields(spec);
  return { fields, pending: spec.precision === 'int8' && fields.int8 === undefined ? ['int8'] : [] };
}

/** The fields in one line, for the run's header: "model mobilenet_0.25, weights imagenet, …". */
export function describeFields(fields: SpecFields): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
