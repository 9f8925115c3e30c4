// Apache Parquet: one row per input, columns path (string), vector (fixed-size list of
// float32, null for a failed input) and error (null for a vector), read by pandas,
// pyarrow, Polars and DuckDB. How the vectors were made (the run spec's fields and
// fingerprint) is in the file's key-value metadata under backbones.spec, as in FILE.spec.json.
// Written with Apache Arrow + parquet-wasm (the
// Rust parquet crate), both loaded only when a Parquet file is written or resumed.
// Parquet puts its footer at the end, so rows are held in memory and the file is
// written when the run ends: a killed run leaves nothing to continue; --resume
// continues a finished file (its rows are kept, the missing inputs added).
import { readFileSync, statSync, truncateSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BackbonesError, errorMessage } from '../errors.js';
import { isError } from './records.js';
import { partialPath, resumeSource } from './staged.js';
import type { AsyncResumeReader, OutputFormat, ResumeState, WriterFactory } from './writer.js';

type Arrow = typeof import('apache-arrow');
type ParquetWasm = typeof import('parquet-wasm/esm');

let modules: Promise<{ arrow: Arrow; pq: ParquetWasm }> | undefined;

/** Apache Arrow and parquet-wasm, loaded (and the WebAssembly compiled) once, at first use. */
function parquetModules(): Promise<{ arrow: Arrow; pq: ParquetWasm }> {
  modules ??= (async () => {
    try {
      const [arrow, pq] = await Promise.all([import('apache-arrow'), import('parquet-wasm/esm')]);
      const wasm = createRequire(import.meta.url).resolve('parquet-wasm/esm/parquet_wasm_bg.wasm');
      pq.initSync({ module: readFileSync(wasm) });
      return { arrow, pq };
    } catch (e) {
      throw new BackbonesError('E_USAGE', `Parquet support cannot be loaded (${errorMessage(e)}); reinstall with npm ci (it needs apache-arrow and parquet-wasm).`, { cause: e });
    }
  })();
  return modules;
}

interface Rows {
  paths: string[];
  /** One per path: the vector, or null for a failed input. */
  vectors: (Float32Array | null)[];
  errors: (string | null)[];
  metadata: Map<string, string>;
}

/** Reads a Parquet file this writer wrote; a usage error for anything else. */
async function readRows(file: string): Promise<Rows> {
  const { arrow, pq } = await parquetModules();
  let table: import('apache-arrow').Table;
  try {
    table = arrow.tableFromIPC(pq.readParquet(readFileSync(file)).intoIPCStream());
  } catch (e) {
    throw new BackbonesError('E_USAGE', `--resume: ${file} is not a Parquet file (${errorMessage(e)}), so it was left as it is.`);
  }
  const path = table.getChild('path');
  const vector = table.getChild('vector');
  const error = table.getChild('error');
  if (!path || !vector || !error) throw new BackbonesError('E_USAGE', `--resume: ${file} lacks the path, vector and error columns backbones writes, so it was left as it is.`);
  const rows: Rows = { paths: [], vectors: [], errors: [], metadata: table.schema.metadata };
  for (let i = 0; i < table.numRows; i++) {
    rows.paths.push(path.get(i) as string);
    const v = vector.get(i) as { toArray(): Float32Array } | null;
    rows.vectors.push(v ? Float32Array.from(v.toArray()) : null);
    rows.errors.push((error.get(i) as string | null) ?? null);
  }
  return rows;
}

async function parquetBytes(rows: Rows, file: string): Promise<Uint8Array> {
  const { arrow, pq } = await parquetModules();
  const n = rows.paths.length;
  const dim = rows.vectors.find((v) => v !== null)?.length ?? 0;
  const flat = new Float32Array(n * dim);
  const valid = new Uint8Array(Math.ceil(n / 8));
  rows.vectors.forEach((v, i) => {
    if (!v) return;
    if (v.length !== dim) throw new BackbonesError('E_USAGE', `${file} has ${dim} values per row; ${rows.paths[i]} gives ${v.length} (a different layer or model?).`);
    flat.set(v, i * dim);
    valid[i >> 3]! |= 1 << (i & 7);
  });
  const listType = new arrow.FixedSizeList(dim, new arrow.Field('item', new arrow.Float32(), false));
  const nulls = rows.vectors.filter((v) => v === null).length;
  const vectors = arrow.makeData({ type: listType, length: n, nullCount: nulls, nullBitmap: valid, child: arrow.makeData({ type: new arrow.Float32(), length: flat.length, data: flat }) });
  const fields = [new arrow.Field('path', new arrow.Utf8(), false), new arrow.Field('vector', listType, true), new arrow.Field('error', new arrow.Utf8(), true)];
  const schema = new arrow.Schema(fields, rows.metadata);
  const data = arrow.makeData({
    type: new arrow.Struct(fields),
    length: n,
    nullCount: 0,
    children: [arrow.vectorFromArray(rows.paths, new arrow.Utf8()).data[0]!, vectors, arrow.vectorFromArray(rows.errors, new arrow.Utf8()).data[0]!],
  });
  const table = new arrow.Table(new arrow.RecordBatch(schema, data));
  const props = new pq.WriterPropertiesBuilder().setCompression(pq.Compression.ZSTD).setKeyValueMetadata(rows.metadata).build();
  return pq.writeParquet(pq.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), props);
}

/** The key-value metadata key holding the spec record ({fingerprint, fields}). */
export const PARQUET_SPEC_KEY = 'backbones.spec';

export const parquetWriter: WriterFactory = (sink, { kind, appending, spec, file }) => {
  if (kind !== 'extract' || !file || !sink.writeAt) throw new Error('the parquet writer needs extract records and a file sink');
  const metadata = new Map<string, string>(spec ? [[PARQUET_SPEC_KEY, JSON.stringify(spec)]] : []);
  const rows: Rows = { paths: [], vectors: [], errors: [], metadata };
  return {
    write: (record) => {
      if (isError(record)) {
        rows.paths.push(record.path);
        rows.vectors.push(null);
        rows.errors.push(record.error);
      } else if ('vector' in record) {
        rows.paths.push(record.path);
        rows.vectors.push(record.vector);
        rows.errors.push(null);
      }
    },
    close: async () => {
      let all = rows;
      if (appending) {
        // The partial file holds the rows of the file being resumed (see readParquetResume): keep its successes.
        const old = await readRows(sink.target);
        const keep = old.paths.map((_, i) => i).filter((i) => old.errors[i] === null);
        all = {
          paths: [...keep.map((i) => old.paths[i]!), ...rows.paths],
          vectors: [...keep.map((i) => old.vectors[i]!), ...rows.vectors],
          errors: [...keep.map(() => null), ...rows.errors],
          metadata: rows.metadata.size > 0 ? rows.metadata : old.metadata,
        };
      }
      const bytes = await parquetBytes(all, file);
      sink.writeAt!(bytes, 0);
      truncateSync(sink.target, bytes.length);
      await sink.close();
    },
  };
};

export const readParquetResume: AsyncResumeReader = async (file) => {
  const source = resumeSource(file);
  const state: ResumeState = { done: new Set(), files: [], fromPartial: source === partialPath(file) };
  // An empty partial is what a killed run leaves (nothing is written before the end): start afresh.
  if (!source || statSync(source).size === 0) return state;
  const rows = await readRows(source);
  rows.paths.forEach((p, i) => {
    if (rows.errors[i] === null) state.done.add(p);
  });
  state.files.push({ file, source, keepBytes: statSync(source).size });
  return state;
};

export const parquetFormat: OutputFormat = {
  name: 'parquet',
  extensions: ['parquet'],
  holds: ['extract'],
  needsFile: 'it writes its footer at the end',
  writer: parquetWriter,
  resume: readParquetResume,
};
