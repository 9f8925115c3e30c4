// How a store's vectors were made: the run spec's record (its fields and fingerprint, the
// same record as FILE.spec.json and Parquet's metadata) and the options the spec was
// resolved from, so that a query image is extracted by the same spec resolved again
// (src/spec/stored.ts). A store keeps both in its metadata and refuses vectors whose
// record differs, naming the fields: vectors of two specs are not comparable.
import { differences, type SpecRecord } from '../output/spec-record.js';

export interface StoredSpec {
  record: SpecRecord;
  /** The spec's options as JSON (src/spec/stored.ts reloadOptions): what resolves the spec again. */
  options: Record<string, unknown>;
}

/** Metadata keys (a Lance table's schema metadata). */
export const SPEC_KEY = 'backbones.spec';
export const SPEC_OPTIONS_KEY = 'backbones.spec_options';

export function storedSpecMetadata(s: StoredSpec): Map<string, string> {
  return new Map([
    [SPEC_KEY, JSON.stringify(s.record)],
    [SPEC_OPTIONS_KEY, JSON.stringify(s.options)],
  ]);
}

/** The spec in a store's metadata; null when there is none (not written by backbones). */
export function storedSpecFromMetadata(meta: Map<string, string> | undefined): StoredSpec | null {
  try {
    const record = JSON.parse(meta?.get(SPEC_KEY) ?? 'null') as SpecRecord | null;
    const options = JSON.parse(meta?.get(SPEC_OPTIONS_KEY) ?? 'null') as Record<string, unknown> | null;
    if (!record || typeof record.fingerprint !== 'string' || typeof record.fields !== 'object' || !options) return null;
    return { record, options };
  } catch {
    return null;
  }
}

/** "field stored → now" for each field whose value differs; only the fields `now` has are compared when `onlyNow`. */
export function storedDifferences(stored: StoredSpec, now: SpecRecord, onlyNow = false): string[] {
  const recorded = onlyNow ? Object.fromEntries(Object.keys(now.fields).map((k) => [k, stored.record.fields[k] ?? ''])) : stored.record.fields;
  return differences(recorded, now.fields);
}
