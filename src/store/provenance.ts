// How a stored vector was made, as one small record and a fingerprint of it. A vector
// store (Lance table, Parquet file) records both, and refuses to mix vectors whose
// fingerprints differ: the vectors of two specs are not comparable. This is the one
// place that says what the spec is (to be replaced by the run spec's fingerprint).
import { createHash } from 'node:crypto';
import { weightsHash } from '../onnx/hash.js';
import type { Backbone } from '../zoo/backbone.js';
import type { Pooling } from '../zoo/card.js';
import type { LoadImageOptions } from '../images/model-input.js';

export interface Provenance {
  /** Zoo name, or the model path as given. */
  model: string;
  /** imagenet, random, file or model (BackboneInfo.weights.kind). */
  weights: string;
  /** Where the weights came from: --weights PATH, the seed of random weights; '' for the card's. */
  weightsSource: string;
  /** sha256 of the weights and topology (src/onnx/hash.ts), or 'unhashed' for graph models. */
  weightsHash: string;
  /** fp32 or int8. */
  precision: string;
  layer: string;
  pool: Pooling;
  l2: boolean;
  /** [height, width] of the model input. */
  inputSize: [number, number];
  preprocess: string;
  resize: string;
  interpolation: string;
  background: string;
  decode: string;
  kerasCompat: boolean;
}

/** The fields that decide whether two vectors are comparable, in the order messages name them. */
export const FINGERPRINT_FIELDS = [
  'model',
  'weightsHash',
  'precision',
  'layer',
  'pool',
  'l2',
  'inputSize',
  'preprocess',
  'resize',
  'interpolation',
  'background',
  'decode',
  'kerasCompat',
] as const satisfies readonly (keyof Provenance)[];

/** The model selection and image settings that made a run's vectors. */
export async function provenanceOf(
  backbone: Backbone,
  task: { layer: string; pool: Pooling; l2: boolean },
  settings: Pick<LoadImageOptions, 'size' | 'preprocess' | 'resize' | 'interpolation' | 'background' | 'decode' | 'kerasCompat'>,
  selection: { weights?: string; seed?: number },
): Promise<Provenance> {
  const info = backbone.info;
  const kind = info.weights.kind;
  return {
    model: info.name,
    weights: kind,
    weightsSource: kind === 'file' ? (selection.weights ?? '') : kind === 'random' ? String(selection.seed ?? '') : '',
    // Graph models have no layers to hash; their file is their identity.
    weightsHash: 'layers' in backbone.model ? await weightsHash(backbone.model) : 'unhashed',
    // What the engine runs (int8 asked on an engine without it runs fp32).
    precision: backbone.precision,
    layer: task.layer,
    pool: task.pool,
    l2: task.l2,
    inputSize: [settings.size[0], settings.size[1]],
    preprocess: settings.preprocess,
    resize: settings.resize ?? 'squash',
    interpolation: settings.interpolation ?? 'bilinear',
    background: settings.background ?? 'white',
    decode: settings.decode ?? 'exact',
    kerasCompat: Boolean(settings.kerasCompat),
  };
}

const show = (v: unknown) => (Array.isArray(v) ? v.join('x') : typeof v === 'string' && v.length > 16 && /^[0-9a-f]+$/.test(v) ? v.slice(0, 12) : String(v));

/** sha256 (hex, 16 digits) of the comparable fields. */
export function fingerprintOf(p: Provenance): string {
  const canonical = JSON.stringify(FINGERPRINT_FIELDS.map((f) => [f, p[f]]));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

/** "layer fc1 (stored) vs fc2 (now)" for every comparable field that differs. */
export function provenanceDifferences(stored: Provenance, now: Provenance): string[] {
  return FINGERPRINT_FIELDS.filter((f) => show(stored[f]) !== show(now[f]) || JSON.stringify(stored[f]) !== JSON.stringify(now[f])).map(
    (f) => `${f} ${show(stored[f])} (stored) vs ${show(now[f])} (now)`,
  );
}

/** Metadata keys under which stores keep the provenance (Lance schema metadata, Parquet key-value metadata). */
export const PROVENANCE_KEY = 'backbones.provenance';
export const FINGERPRINT_KEY = 'backbones.fingerprint';

export function provenanceMetadata(p: Provenance): Map<string, string> {
  return new Map([
    [PROVENANCE_KEY, JSON.stringify(p)],
    [FINGERPRINT_KEY, fingerprintOf(p)],
  ]);
}

/** The provenance in a store's metadata; null when there is none (not written by backbones). */
export function provenanceFromMetadata(meta: Map<string, string> | undefined): Provenance | null {
  const text = meta?.get(PROVENANCE_KEY);
  if (!text) return null;
  try {
    const p = JSON.parse(text) as Provenance;
    return typeof p.model === 'string' && typeof p.layer === 'string' ? p : null;
  } catch {
    return null;
  }
}
