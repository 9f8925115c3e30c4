// The Redis feature store: one hash per image and feature kind holding only what differs
// per image: the vector as raw little-endian float32 bytes (or the error, or the
// predictions), the absolute path, and the run spec's fingerprint. What every result of a
// spec shares (model, layer, pooling, preprocessing, weights, dtype, shape) is kept once,
// under <prefix>:spec:<fingerprint> (bench/redis-memory.ts measures what that saves). The
// key scheme is in keys.ts.
import path from 'node:path';
import type { ChainableCommander } from 'ioredis';
import { BackbonesError, errorMessage } from '../errors.js';
import type { OutputRecord, Prediction } from '../output/records.js';
import { differences, type SpecFields, type SpecRecord } from '../output/spec-record.js';
import { holdOpen, type Connection } from './connection.js';
import { specKey, storeKey } from './keys.js';
import type { Pooling } from '../zoo/card.js';

/** What produced a stored result; a key holding another spec is a conflict. */
export interface StoreSpec {
  kind: 'extract' | 'classify';
  model: string;
  layer: string;
  pool: Pooling;
  l2: boolean;
  preprocess: string;
  /** imagenet, random, file or model: random and pretrained vectors must not mix. */
  weights: string;
  /** The run spec's fingerprint and fields (src/spec): the `spec` field, compared with what a key holds. */
  record: SpecRecord;
}

/** Hash fields that keys written before the `spec` field (and before the facts moved to the spec key) hold. */
const SPEC_FIELDS = ['model', 'layer', 'pool', 'l2', 'preprocess', 'weights'] as const;

function specFields(spec: StoreSpec): Record<(typeof SPEC_FIELDS)[number], string> {
  return { model: spec.model, layer: spec.layer, pool: spec.pool, l2: spec.l2 ? '1' : '0', preprocess: spec.preprocess, weights: spec.weights };
}

/** What every result of one spec shares, kept once under <prefix>:spec:<fingerprint> beside the record. */
export interface StoreFacts extends Omit<StoreSpec, 'record'> {
  /** extract: numpy's name of the vector's type (little-endian float32). */
  dtype?: '<f4';
  /** extract: the stored vector's shape, as JSONL's: [c] after --pool, [h,w,c] unpooled. */
  shape?: number[];
}

/** The JSON under <prefix>:spec:<fingerprint>: the spec's record and the facts its results share. */
export interface StoredSpecRecord extends SpecRecord {
  store?: StoreFacts;
}

function factsOf(spec: StoreSpec, shape: number[] | undefined): StoreFacts {
  const { record: _record, ...facts } = spec;
  return spec.kind === 'extract' ? { ...facts, dtype: '<f4', ...(shape ? { shape } : {}) } : facts;
}

/** The hash fields of one record: only what differs per image (vector as raw float32 little-endian bytes). */
export function hashFields(spec: StoreSpec, record: OutputRecord): Record<string, string | Buffer> {
  const base = { path: path.resolve(record.path), spec: spec.record.fingerprint };
  if ('error' in record) return { ...base, error: record.error };
  if ('predictions' in record) return { ...base, predictions: JSON.stringify(record.predictions) };
  const v = record.vector;
  const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return { ...base, vector: isLittleEndian() ? bytes : swap32(bytes) };
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}

function swap32(b: Buffer): Buffer {
  const c = Buffer.from(b);
  return c.swap32();
}

/**
 * Reads a stored hash back into the record extract would have written (or an error record):
 * model, layer and shape from the spec's facts, or from the hash itself for keys written
 * before the facts moved there.
 */
export function recordFromHash(h: Record<string, Buffer | null>, fallbackPath: string, facts: StoreFacts | null): OutputRecord {
  const text = (k: string) => h[k]?.toString('utf8');
  const p = text('path') ?? fallbackPath;
  const error = text('error');
  if (error !== undefined) return { path: p, error };
  const model = text('model') ?? facts?.model ?? '';
  const layer = text('layer') ?? facts?.layer ?? '';
  const predictions = text('predictions');
  if (predictions !== undefined) return { path: p, model, predictions: JSON.parse(predictions) as Prediction[] };
  const bytes = h.vector;
  if (!bytes) return { path: p, error: 'not in the store' };
  const shape = text('shape') !== undefined ? (JSON.parse(text('shape')!) as number[]) : facts?.shape;
  if (!shape) return { path: p, error: 'the store has no record of this vector\'s spec (its shape is unknown)' };
  const le = Buffer.from(bytes);
  const vector = new Float32Array((isLittleEndian() ? le : le.swap32()).buffer.slice(le.byteOffset, le.byteOffset + le.byteLength));
  return { path: p, model, layer, shape, vector };
}

/** The fields recordFromHash reads (model, layer, shape: only keys written before the facts moved to the spec key hold them). */
export const RECORD_FIELDS = ['path', 'spec', 'error', 'predictions', 'vector', 'model', 'layer', 'shape'] as const;

/** What a look-up of existing keys found. */
export interface Existing {
  /** Keys that already hold a result (not an error) of this spec. */
  done: Set<string>;
  /** Keys that hold a result of another spec: key → what it holds. */
  conflicts: Map<string, string>;
}

export class FeatureStore {
  constructor(
    readonly connection: Connection,
    readonly prefix: string,
  ) {}

  get client() {
    return this.connection.client;
  }

  key(spec: StoreSpec, imagePath: string): string {
    return storeKey(this.prefix, spec.model, spec.layer, imagePath);
  }

  /** Which keys already hold a result of this spec, and which hold another one (what differs, by field); pipelined in chunks. */
  async existing(keys: string[], spec: StoreSpec): Promise<Existing> {
    const want = specFields(spec);
    const fingerprint = spec.record.fingerprint;
    const out: Existing = { done: new Set(), conflicts: new Map() };
    const foreign = new Map<string, string[]>(); // fingerprint -> keys holding it
    const CHUNK = 1000;
    for (let start = 0; start < keys.length; start += CHUNK) {
      const chunk = keys.slice(start, start + CHUNK);
      const pipe = this.client.pipeline();
      for (const key of chunk) pipe.hmget(key, ...SPEC_FIELDS, 'spec', 'error');
      const replies = await holdOpen(execOrThrow(pipe));
      chunk.forEach((key, i) => {
        const values = replies[i] as (string | null)[];
        if (values.every((v) => v === null)) return;
        const stored = values[SPEC_FIELDS.length];
        const error = values[SPEC_FIELDS.length + 1];
        if (stored) {
          if (stored !== fingerprint) foreign.set(stored, [...(foreign.get(stored) ?? []), key]);
          else if (error === null) out.done.add(key);
          return;
        }
        const differs = SPEC_FIELDS.filter((f, j) => values[j] !== want[f]);
        if (differs.length > 0) {
          out.conflicts.set(key, differs.map((f) => `${f} ${values[SPEC_FIELDS.indexOf(f)] ?? '(none)'} → ${want[f]}`).join('; '));
        } else if (error === null) {
          out.done.add(key);
        }
      });
    }
    for (const [other, holders] of foreign) {
      const what = describeDifference(await this.specFields(other), spec.record.fields);
      for (const key of holders) out.conflicts.set(key, what);
    }
    return out;
  }

  /** The fields of a fingerprint this store has recorded (<prefix>:spec:<fingerprint>), or null. */
  async specFields(fingerprint: string): Promise<SpecFields | null> {
    return (await this.specRecord(fingerprint))?.fields ?? null;
  }

  private readonly records = new Map<string, StoredSpecRecord | null>();

  /** What <prefix>:spec:<fingerprint> holds (read once per fingerprint), or null. */
  async specRecord(fingerprint: string): Promise<StoredSpecRecord | null> {
    if (this.records.has(fingerprint)) return this.records.get(fingerprint)!;
    const json = await holdOpen(this.client.get(specKey(this.prefix, fingerprint)));
    let record: StoredSpecRecord | null = null;
    try {
      record = json ? (JSON.parse(json) as StoredSpecRecord) : null;
    } catch {
      record = null;
    }
    // Cached only once it knows the shape (a spec's first batch may hold only errors).
    if (record?.store?.shape || record?.store?.kind === 'classify') this.records.set(fingerprint, record);
    return record;
  }

  /** The records these keys hold (null: no hash), pipelined; `paths` name them when a hash has no path. */
  async read(keys: string[], paths: string[]): Promise<(OutputRecord | null)[]> {
    const pipe = this.client.pipeline();
    for (const k of keys) pipe.hmgetBuffer(k, ...RECORD_FIELDS);
    const replies = (await holdOpen(execOrThrow(pipe))) as (Buffer | null)[][];
    const out: (OutputRecord | null)[] = [];
    for (const [i, values] of replies.entries()) {
      if (values.every((v) => v === null)) {
        out.push(null);
        continue;
      }
      const h = Object.fromEntries(RECORD_FIELDS.map((f, j) => [f, values[j] ?? null])) as Record<string, Buffer | null>;
      const fp = h.spec?.toString('utf8');
      out.push(recordFromHash(h, paths[i]!, fp ? ((await this.specRecord(fp))?.store ?? null) : null));
    }
    return out;
  }

  /**
   * Writes one batch of records in one pipeline: HSET per image (DEL first, so an
   * error hash never keeps an old vector), then whatever `extra` adds (run list, indexes).
   */
  async writeBatch(spec: StoreSpec, records: { key: string; record: OutputRecord }[], extra?: (pipe: ChainableCommander) => void): Promise<void> {
    if (records.length === 0 && !extra) return;
    const pipe = this.client.multi();
    // The fields behind the fingerprint and the facts its results share, once per spec: what a
    // conflict or queue export names, and what a reader needs besides the vector. A batch
    // without a vector does not know the shape: it writes only where nothing is yet.
    const shape = records.map((r) => r.record).find((r): r is Extract<OutputRecord, { vector: Float32Array }> => 'vector' in r)?.shape;
    const stored: StoredSpecRecord = { ...spec.record, store: factsOf(spec, shape) };
    if (shape || spec.kind === 'classify') pipe.set(specKey(this.prefix, spec.record.fingerprint), JSON.stringify(stored));
    else pipe.set(specKey(this.prefix, spec.record.fingerprint), JSON.stringify(stored), 'NX');
    for (const { key, record } of records) {
      pipe.del(key);
      pipe.hset(key, hashFields(spec, record));
    }
    extra?.(pipe);
    await holdOpen(execOrThrow(pipe));
  }

  async close(): Promise<void> {
    try {
      await holdOpen(this.client.quit());
    } catch {
      this.client.disconnect();
    }
  }
}

/** Runs a pipeline; a failed command (or a closed connection) throws. */
export async function execOrThrow(pipe: ChainableCommander): Promise<unknown[]> {
  const replies = await pipe.exec();
  if (!replies) throw new Error('the transaction was discarded');
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** "stored N": the message for a connection lost mid-run, naming how to continue. */
export function lostConnection(where: string, cause: unknown, stored: number, resumeHint: string): BackbonesError {
  return new BackbonesError(
    'E_REDIS',
    `Lost the connection to Redis at ${where} (${errorMessage(cause).replace(/\.$/, '')}) and it did not come back; ${stored} image${stored === 1 ? '' : 's'} were stored before that. ${resumeHint}`,
    { cause },
  );
}

/** What differs between a stored spec and the current one, for messages. */
export function describeDifference(stored: SpecFields | null, current: SpecFields): string {
  if (!stored) return 'made with a spec this store has no record of';
  const diff = differences(stored, current);
  return diff.length > 0 ? diff.join('; ') : 'the same fields, another fingerprint';
}
