// The Redis feature store: one hash per image and run spec holding only what the image
// has: the vector as raw little-endian float32 bytes, or the predictions, or the error.
// The key says the rest (keys.ts: <prefix>:<model>:<layer>:<fingerprint>:<absolute path>);
// what every result of a spec shares (model, layer, pooling, preprocessing, weights, dtype,
// shape) is kept once, under <prefix>:spec:<fingerprint>. One field per hash: each field
// costs 64-80 B beside a 1 KiB vector (bench/redis-memory.ts).
import type { ChainableCommander } from 'ioredis';
import { BackbonesError, errorMessage } from '../errors.js';
import type { OutputRecord, Prediction } from '../output/records.js';
import type { SpecFields, SpecRecord } from '../output/spec-record.js';
import { holdOpen, type Connection } from './connection.js';
import { fingerprintOfKeyspace, specKey, storeKey, storeKeyspace } from './keys.js';
import type { Pooling } from '../zoo/card.js';

/** What produced a stored result: its run spec (the keyspace's fingerprint) and the facts readers need. */
export interface StoreSpec {
  kind: 'extract' | 'classify';
  model: string;
  layer: string;
  pool: Pooling;
  l2: boolean;
  preprocess: string;
  /** imagenet, random, file or model: random and pretrained vectors must not mix. */
  weights: string;
  /** The run spec's fingerprint and fields (src/spec): the fingerprint is part of every key. */
  record: SpecRecord;
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

/** The one hash field of a record: `vector` (raw float32 little-endian bytes), `predictions` (JSON) or `error`. */
export function hashFields(record: OutputRecord): Record<string, string | Buffer> {
  if ('error' in record) return { error: record.error };
  if ('predictions' in record) return { predictions: JSON.stringify(record.predictions) };
  const v = record.vector;
  const bytes = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return { vector: isLittleEndian() ? bytes : swap32(bytes) };
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}

function swap32(b: Buffer): Buffer {
  const c = Buffer.from(b);
  return c.swap32();
}

/** The fields recordFromHash reads. */
export const RECORD_FIELDS = ['error', 'predictions', 'vector'] as const;

/**
 * Reads a stored hash back into the record extract would have written (or an error record):
 * the path from its key, model, layer and shape from the spec's facts.
 */
export function recordFromHash(h: Partial<Record<(typeof RECORD_FIELDS)[number], Buffer | null>>, imagePath: string, facts: StoreFacts | null): OutputRecord {
  const error = h.error?.toString('utf8');
  if (error !== undefined) return { path: imagePath, error };
  const model = facts?.model ?? '';
  const predictions = h.predictions?.toString('utf8');
  if (predictions !== undefined) return { path: imagePath, model, predictions: JSON.parse(predictions) as Prediction[] };
  const bytes = h.vector;
  if (!bytes) return { path: imagePath, error: 'not in the store' };
  const shape = facts?.shape;
  if (!shape) return { path: imagePath, error: 'the store has no record of this vector\'s spec (its shape is unknown)' };
  const le = Buffer.from(bytes);
  const vector = new Float32Array((isLittleEndian() ? le : le.swap32()).buffer.slice(le.byteOffset, le.byteOffset + le.byteLength));
  return { path: imagePath, model, layer: facts.layer, shape, vector };
}

export class FeatureStore {
  constructor(
    readonly connection: Connection,
    readonly prefix: string,
  ) {}

  get client() {
    return this.connection.client;
  }

  /** Where this spec's results live: <prefix>:<model>:<layer>:<fingerprint>: */
  keyspace(spec: StoreSpec): string {
    return storeKeyspace(this.prefix, spec.model, spec.layer, spec.record.fingerprint);
  }

  key(spec: StoreSpec, imagePath: string): string {
    return storeKey(this.keyspace(spec), imagePath);
  }

  /** The keys that hold a result (not an error); pipelined in chunks. */
  async holdingResults(keys: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    const CHUNK = 1000;
    for (let start = 0; start < keys.length; start += CHUNK) {
      const chunk = keys.slice(start, start + CHUNK);
      const pipe = this.client.pipeline();
      for (const key of chunk) pipe.exists(key).hexists(key, 'error');
      const replies = (await holdOpen(execOrThrow(pipe))) as number[];
      chunk.forEach((key, i) => {
        if (replies[2 * i] === 1 && replies[2 * i + 1] === 0) out.add(key);
      });
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

  /** The records of these paths in one keyspace (null: no hash), pipelined; the facts from the spec its fingerprint names. */
  async read(keyspace: string, paths: string[]): Promise<(OutputRecord | null)[]> {
    const pipe = this.client.pipeline();
    for (const p of paths) pipe.hmgetBuffer(storeKey(keyspace, p), ...RECORD_FIELDS);
    const replies = (await holdOpen(execOrThrow(pipe))) as (Buffer | null)[][];
    const fingerprint = fingerprintOfKeyspace(keyspace);
    const facts = fingerprint && replies.some((values) => values.some((v) => v !== null)) ? ((await this.specRecord(fingerprint))?.store ?? null) : null;
    return replies.map((values, i) => {
      if (values.every((v) => v === null)) return null;
      const h = Object.fromEntries(RECORD_FIELDS.map((f, j) => [f, values[j] ?? null]));
      return recordFromHash(h, paths[i]!, facts);
    });
  }

  /**
   * Writes one batch of records in one transaction: HSET per image (DEL first, so an
   * error hash never keeps an old vector), then whatever `extra` adds (run list, indexes).
   */
  async writeBatch(spec: StoreSpec, records: { key: string; record: OutputRecord }[], extra?: (pipe: ChainableCommander) => void): Promise<void> {
    if (records.length === 0 && !extra) return;
    const pipe = this.client.multi();
    // The fields behind the fingerprint and the facts its results share, once per spec: what a
    // reader needs besides the vector. A batch without a vector does not know the shape: it
    // writes only where nothing is yet.
    const shape = records.map((r) => r.record).find((r): r is Extract<OutputRecord, { vector: Float32Array }> => 'vector' in r)?.shape;
    const stored: StoredSpecRecord = { ...spec.record, store: factsOf(spec, shape) };
    if (shape || spec.kind === 'classify') pipe.set(specKey(this.prefix, spec.record.fingerprint), JSON.stringify(stored));
    else pipe.set(specKey(this.prefix, spec.record.fingerprint), JSON.stringify(stored), 'NX');
    for (const { key, record } of records) {
      pipe.del(key);
      pipe.hset(key, hashFields(record));
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
