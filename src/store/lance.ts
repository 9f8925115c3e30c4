// The vector store: a LanceDB table (a Lance dataset folder, PATH.lance, locally or on
// object storage) with one row per image: path, vector (fixed-size list of float32),
// image size, file size and mtime, run id and the spec fingerprint; the spec record and
// its options (stored-spec.ts) are in the table's schema metadata. LanceDB and Apache Arrow are
// loaded at first use (require at call time): the rest of the tool starts without them.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BackbonesError, errorMessage } from '../errors.js';
import { storedSpecFromMetadata, storedSpecMetadata, type StoredSpec } from './stored-spec.js';

type LanceDb = typeof import('@lancedb/lancedb');
type Arrow = typeof import('apache-arrow');
type Table = import('@lancedb/lancedb').Table;

const require = createRequire(import.meta.url);
let loaded: { lancedb: LanceDb; arrow: Arrow } | undefined;

/** LanceDB and the Apache Arrow it was built against (CommonJS both, so they share one Arrow). */
export function lanceModules(): { lancedb: LanceDb; arrow: Arrow } {
  if (loaded) return loaded;
  // Lance logs "creating a new dataset" at warn level; only errors belong on stderr.
  process.env.LANCEDB_LOG ??= 'error';
  try {
    loaded = { lancedb: require('@lancedb/lancedb') as LanceDb, arrow: require('apache-arrow') as Arrow };
  } catch (e) {
    throw new BackbonesError('E_STORE', `LanceDB cannot be loaded (${errorMessage(e)}); reinstall with npm ci (it needs @lancedb/lancedb and apache-arrow).`, { cause: e });
  }
  return loaded;
}

/** Object stores LanceDB reaches with the same code as a folder, and the credentials each needs. */
const OBJECT_STORES: Record<string, { name: string; has: (env: NodeJS.ProcessEnv, home: string) => boolean; needs: string }> = {
  's3:': {
    name: 'S3',
    has: (env, home) =>
      Boolean((env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) ||
      existsSync(env.AWS_SHARED_CREDENTIALS_FILE ?? path.join(home, '.aws', 'credentials')),
    needs: 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or ~/.aws/credentials',
  },
  'gs:': {
    name: 'Google Cloud Storage',
    has: (env, home) =>
      Boolean(env.GOOGLE_APPLICATION_CREDENTIALS || env.GOOGLE_SERVICE_ACCOUNT || env.GOOGLE_SERVICE_ACCOUNT_PATH || env.GOOGLE_SERVICE_ACCOUNT_KEY) ||
      existsSync(path.join(home, '.config', 'gcloud', 'application_default_credentials.json')),
    needs: 'GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT_PATH',
  },
  'az:': {
    name: 'Azure Blob Storage',
    has: (env) => Boolean(env.AZURE_STORAGE_ACCOUNT_NAME && (env.AZURE_STORAGE_ACCOUNT_KEY || env.AZURE_STORAGE_SAS_TOKEN || env.AZURE_CLIENT_SECRET || env.AZURE_FEDERATED_TOKEN_FILE)),
    needs: 'AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN',
  },
};

/** Where a store is: LanceDB's database root and the table in it (PATH.lance = <root>/<table>.lance). */
export interface LanceTarget {
  /** As the user wrote it (for messages). */
  given: string;
  root: string;
  table: string;
  remote: boolean;
}

/** Whether a --to/--in value names a Lance store (a .lance path, or an object-store URI). */
export function isLanceTarget(value: string): boolean {
  const scheme = value.match(/^([a-z][a-z0-9+.-]*:)\/\//i)?.[1]?.toLowerCase();
  if (scheme) return scheme in OBJECT_STORES;
  return /\.lance\/?$/i.test(value);
}

/**
 * Parses and checks a store location before anything starts: a name ending in .lance,
 * an object store LanceDB supports, and (no network is touched) credentials for it.
 */
export function lanceTarget(value: string, flag: string, env: NodeJS.ProcessEnv = process.env, home = os.homedir()): LanceTarget {
  const trimmed = value.replace(/\/+$/, '');
  const scheme = trimmed.match(/^([a-z][a-z0-9+.-]*:)\/\//i)?.[1]?.toLowerCase();
  if (scheme && !(scheme in OBJECT_STORES)) {
    throw new BackbonesError('E_USAGE', `${flag} ${value}: ${scheme}// is not a store backbones can write; use a PATH.lance folder or an s3://, gs:// or az:// URI ending in .lance.`);
  }
  const base = scheme ? trimmed.slice(trimmed.lastIndexOf('/') + 1) : path.basename(trimmed);
  const table = base.replace(/\.lance$/i, '');
  if (!/\.lance$/i.test(base) || !/^[A-Za-z0-9_.-]+$/.test(table)) {
    throw new BackbonesError('E_USAGE', `${flag} ${value}: a vector store is a folder named NAME.lance (letters, digits, _ - . in NAME), e.g. ${flag} features.lance.`);
  }
  if (scheme) {
    const store = OBJECT_STORES[scheme]!;
    if (!store.has(env, home)) {
      throw new BackbonesError('E_STORE', `${flag} ${value}: no ${store.name} credentials are set (${store.needs}); set them and run again.`);
    }
    return { given: value, root: trimmed.slice(0, trimmed.length - base.length - 1), table, remote: true };
  }
  return { given: value, root: path.dirname(path.resolve(trimmed)), table, remote: false };
}

/** One stored image. */
export interface StoredImage {
  path: string;
  width: number;
  height: number;
  /** File size in bytes. */
  bytes: number;
  /** File modification time, ms since the epoch. */
  mtime: number;
  run: string;
}

export interface StoredRow extends StoredImage {
  vector: Float32Array;
}

export interface Neighbour extends StoredImage {
  /** Cosine distance, 1 − similarity. */
  distance: number;
  similarity: number;
}

/** Vector index kinds `store index` builds (LanceDB's names). */
export const INDEX_KINDS = ['ivf-pq', 'ivf-hnsw-sq'] as const;
export type IndexKind = (typeof INDEX_KINDS)[number];
/** The index built automatically: the one measured at 100k × 1024 (bench/RESULTS.md §17). */
export const DEFAULT_INDEX_KIND: IndexKind = 'ivf-hnsw-sq';

/**
 * Below this many rows, search compares the query with every vector (exact, and fast
 * enough: bench/search-scale.ts); from it on, extract and store import build an ANN index.
 */
export const INDEX_THRESHOLD = 10_000;

/** How an ANN query searches: IVF partitions probed, PQ re-ranking factor, HNSW candidate list. */
export interface SearchSettings {
  exact?: boolean;
  nprobes?: number;
  refineFactor?: number;
  ef?: number;
}

export const ANN_DEFAULTS = { nprobes: 20, refineFactor: 10, ef: 100 } as const;

const META_COLUMNS = ['path', 'width', 'height', 'bytes', 'mtime', 'run'] as const;

export class LanceStore {
  private constructor(
    readonly target: LanceTarget,
    private readonly table: Table,
    /** How its vectors were made; null for a Lance dataset backbones did not write. */
    readonly spec: StoredSpec | null,
    readonly dim: number,
  ) {}

  get fingerprint(): string | null {
    return this.spec?.record.fingerprint ?? null;
  }

  private static async connect(target: LanceTarget) {
    const { lancedb } = lanceModules();
    try {
      // No namespace manifest: PATH.lance is all the store writes.
      return await lancedb.connectNamespace('dir', { root: target.root, manifestEnabled: false });
    } catch (e) {
      throw new BackbonesError('E_STORE', `Cannot open the store at ${target.given}: ${errorMessage(e)}`, { cause: e });
    }
  }

  /** The store at `target`; null when there is none yet. */
  static async open(target: LanceTarget): Promise<LanceStore | null> {
    if (!target.remote && !existsSync(path.join(target.root, `${target.table}.lance`))) return null;
    const db = await LanceStore.connect(target);
    let table: Table;
    try {
      if (!(await db.tableNames()).includes(target.table)) return null;
      table = await db.openTable(target.table);
    } catch (e) {
      throw new BackbonesError('E_STORE', `${target.given} cannot be read as a Lance dataset: ${errorMessage(e)}`, { cause: e });
    }
    const schema = await table.schema();
    const vector = schema.fields.find((f) => f.name === 'vector');
    const dim = (vector?.type as { listSize?: number } | undefined)?.listSize;
    if (!dim || !schema.fields.some((f) => f.name === 'path')) {
      throw new BackbonesError('E_USAGE', `${target.given} is a Lance dataset without the path and vector columns backbones writes.`);
    }
    return new LanceStore(target, table, storedSpecFromMetadata(schema.metadata), dim);
  }

  /** A new, empty store for vectors of `dim` values made as `spec` says. */
  static async create(target: LanceTarget, spec: StoredSpec, dim: number): Promise<LanceStore> {
    const { arrow } = lanceModules();
    const db = await LanceStore.connect(target);
    const schema = new arrow.Schema(
      [
        new arrow.Field('path', new arrow.Utf8(), false),
        new arrow.Field('vector', new arrow.FixedSizeList(dim, new arrow.Field('item', new arrow.Float32(), false)), false),
        new arrow.Field('width', new arrow.Int32(), false),
        new arrow.Field('height', new arrow.Int32(), false),
        new arrow.Field('bytes', new arrow.Float64(), false),
        new arrow.Field('mtime', new arrow.TimestampMillisecond('UTC'), false),
        new arrow.Field('run', new arrow.Utf8(), false),
        new arrow.Field('fingerprint', new arrow.Utf8(), false),
      ],
      storedSpecMetadata(spec),
    );
    try {
      const table = await db.createEmptyTable(target.table, schema, { mode: 'create', existOk: true });
      return new LanceStore(target, table, spec, dim);
    } catch (e) {
      throw new BackbonesError('E_STORE', `Cannot create the store ${target.given}: ${errorMessage(e)}`, { cause: e });
    }
  }

  async count(): Promise<number> {
    return this.table.countRows();
  }

  /** Every stored path (absolute, as written). */
  async paths(): Promise<Set<string>> {
    const out = new Set<string>();
    for await (const batch of this.table.query().select(['path'])) {
      const col = batch.getChild('path')!;
      for (let i = 0; i < batch.numRows; i++) out.add(col.get(i) as string);
    }
    return out;
  }

  /** Appends rows (one Lance transaction). */
  async add(rows: StoredRow[]): Promise<void> {
    if (rows.length === 0) return;
    const { arrow } = lanceModules();
    const schema = await this.table.schema();
    const flat = new Float32Array(rows.length * this.dim);
    rows.forEach((r, i) => {
      if (r.vector.length !== this.dim) throw new BackbonesError('E_USAGE', `${this.target.given} holds ${this.dim}-value vectors; ${r.path} gives ${r.vector.length}.`);
      flat.set(r.vector, i * this.dim);
    });
    const vectorType = schema.fields.find((f) => f.name === 'vector')!.type;
    const vectors = arrow.makeData({ type: vectorType, length: rows.length, nullCount: 0, child: arrow.makeData({ type: new arrow.Float32(), length: flat.length, data: flat }) });
    const fp = this.fingerprint ?? '';
    const columns: Record<string, import('apache-arrow').Data> = {
      path: arrow.vectorFromArray(rows.map((r) => r.path), new arrow.Utf8()).data[0]!,
      vector: vectors,
      width: arrow.makeData({ type: new arrow.Int32(), length: rows.length, data: Int32Array.from(rows, (r) => r.width) }),
      height: arrow.makeData({ type: new arrow.Int32(), length: rows.length, data: Int32Array.from(rows, (r) => r.height) }),
      bytes: arrow.makeData({ type: new arrow.Float64(), length: rows.length, data: Float64Array.from(rows, (r) => r.bytes) }),
      mtime: arrow.vectorFromArray(rows.map((r) => Math.round(r.mtime)), new arrow.TimestampMillisecond('UTC')).data[0]!,
      run: arrow.vectorFromArray(rows.map((r) => r.run), new arrow.Utf8()).data[0]!,
      fingerprint: arrow.vectorFromArray(rows.map(() => fp), new arrow.Utf8()).data[0]!,
    };
    const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: rows.length, nullCount: 0, children: schema.fields.map((f) => columns[f.name]!) });
    await this.table.add(new arrow.Table(new arrow.RecordBatch(schema, struct)));
  }

  /** The k nearest stored vectors by cosine distance; exact unless an index exists and `exact` is not asked. */
  async search(vector: Float32Array, k: number, options: SearchSettings = {}): Promise<Neighbour[]> {
    if (vector.length !== this.dim) throw new BackbonesError('E_USAGE', `${this.target.given} holds ${this.dim}-value vectors; the query has ${vector.length}.`);
    let q = this.table.vectorSearch(vector).distanceType('cosine').limit(k).select([...META_COLUMNS]);
    if (options.exact) q = q.bypassVectorIndex();
    else {
      // Defaults measured by bench/search-scale.ts: PQ distances are coarse, so the best
      // k × refineFactor candidates are re-ranked with the full vectors.
      const refine = options.refineFactor ?? ANN_DEFAULTS.refineFactor;
      // HNSW must keep at least as many candidates as are re-ranked (LanceDB refuses ef < k × refine).
      q = q.nprobes(options.nprobes ?? ANN_DEFAULTS.nprobes).refineFactor(refine).ef(Math.max(options.ef ?? ANN_DEFAULTS.ef, k * refine));
    }
    const rows = await q.toArray();
    return rows.map((r: Record<string, unknown>) => {
      const distance = Number(r._distance);
      return { ...imageOf(r), distance, similarity: 1 - distance };
    });
  }

  /** Every row, vectors as one N×dim Float32Array in the same order. */
  async readAll(): Promise<{ images: StoredImage[]; vectors: Float32Array }> {
    const images: StoredImage[] = [];
    const chunks: Float32Array[] = [];
    for await (const batch of this.table.query().select([...META_COLUMNS, 'vector'])) {
      const vec = batch.getChild('vector')!;
      const chunk = new Float32Array(batch.numRows * this.dim);
      for (let i = 0; i < batch.numRows; i++) {
        images.push(imageOf(batch.get(i)!.toJSON() as Record<string, unknown>));
        chunk.set((vec.get(i) as { toArray(): Float32Array }).toArray(), i * this.dim);
      }
      chunks.push(chunk);
    }
    const vectors = new Float32Array(images.length * this.dim);
    let at = 0;
    for (const c of chunks) {
      vectors.set(c, at);
      at += c.length;
    }
    return { images, vectors };
  }

  /** The stored vector of one path, or null. */
  async vectorOf(imagePath: string): Promise<Float32Array | null> {
    const rows = await this.table
      .query()
      .where(`path = '${imagePath.replace(/'/g, "''")}'`)
      .select(['vector'])
      .limit(1)
      .toArray();
    const v = rows[0]?.vector as { toArray(): Float32Array } | undefined;
    return v ? Float32Array.from(v.toArray()) : null;
  }

  /** Whether the vector column has an ANN index. */
  async indexed(): Promise<string | null> {
    const indices = await this.table.listIndices();
    const idx = indices.find((i) => i.columns.includes('vector'));
    return idx ? idx.indexType : null;
  }

  /** Builds (or rebuilds) the ANN index on the vector column. */
  async createIndex(kind: IndexKind): Promise<void> {
    const { lancedb } = lanceModules();
    const rows = await this.count();
    if (rows < 256) throw new BackbonesError('E_USAGE', `${this.target.given} has ${rows} rows: an index needs at least 256 (below ${INDEX_THRESHOLD} rows search is exact anyway).`);
    // Partitions ~ sqrt(rows) (LanceDB's default); sub-vectors of 8 values (PQ) keep recall high.
    const numPartitions = Math.max(1, Math.round(Math.sqrt(rows)));
    const config =
      kind === 'ivf-pq'
        ? lancedb.Index.ivfPq({ distanceType: 'cosine', numPartitions, numSubVectors: Math.max(1, Math.floor(this.dim / 8)) })
        : lancedb.Index.hnswSq({ distanceType: 'cosine', numPartitions: Math.max(1, Math.round(rows / 100_000)) });
    await this.table.createIndex('vector', { config, replace: true });
  }

  close(): void {
    this.table.close();
  }
}

function imageOf(r: Record<string, unknown>): StoredImage {
  const mtime = r.mtime;
  return {
    path: String(r.path),
    width: Number(r.width),
    height: Number(r.height),
    bytes: Number(r.bytes),
    mtime: mtime instanceof Date ? mtime.getTime() : Number(mtime),
    run: String(r.run),
  };
}

