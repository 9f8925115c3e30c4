// store import SOURCE --to STORE: copies vectors an earlier run wrote (.npy + its
// .paths.jsonl, extract JSONL, or the Redis feature store) into a Lance store without
// recomputing them. A source does not record everything that made its vectors, so the
// model options say it (as for extract); the model is loaded for its weights hash only
// (no image is read), and what the source does record (JSONL model/layer; Redis keeps
// each run spec under its own keyspace, so the options' fingerprint names the one read) must agree. store index builds the ANN index.
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { BackbonesError, EXIT, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { startEngine, engineLine } from '../engines/select.js';
import { resolveSpec, type SpecOptions } from '../spec/spec.js';
import { loadForSpec } from '../spec/load.js';
import { completeLines } from '../output/jsonl.js';
import { readNpyHeader, sidecarPaths } from '../output/npy.js';
import { newRunId } from '../store/keys.js';
import { DEFAULT_INDEX_KIND, INDEX_THRESHOLD, LanceStore, lanceTarget, type IndexKind, type StoredRow } from '../store/lance.js';
import type { StoredSpec } from '../store/stored-spec.js';
import { storedSpecOf } from '../spec/stored.js';
import { differences, specSidecar, type SpecRecord } from '../output/spec-record.js';
import { imageFacts, storeFor } from './lance-run.js';
import { openStoreWithSpec } from './search.js';

export interface StoreImportOptions extends SpecOptions {
  to: string;
  model: string;
  keyPrefix: string;
}

/** A source's vectors: path + vector, and what the source says about how they were made. */
interface SourceRow {
  path: string;
  vector: Float32Array;
}

type Claims = Partial<Record<'model' | 'layer' | 'pool' | 'l2' | 'preprocess' | 'weights', string>>;

function* npyRows(file: string): Generator<SourceRow> {
  const header = readNpyHeader(file);
  if (!header) throw new BackbonesError('E_USAGE', `${file} is not a 2-D float32 .npy file written by backbones.`);
  const pathsFile = sidecarPaths(file).paths;
  if (!existsSync(pathsFile)) throw new BackbonesError('E_USAGE', `${pathsFile} (the path of each row of ${file}) is missing, so the rows cannot be matched to images.`);
  const paths = completeLines(pathsFile).lines.map((l) => JSON.parse(l) as string);
  if (paths.length < header.rows) throw new BackbonesError('E_USAGE', `${pathsFile} lists ${paths.length} paths for ${header.rows} rows of ${file}.`);
  const buf = readFileSync(file);
  for (let r = 0; r < header.rows; r++) {
    const start = header.headerBytes + r * header.cols * 4;
    const bytes = buf.subarray(start, start + header.cols * 4);
    yield { path: paths[r]!, vector: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
  }
}

function* jsonlRows(file: string, claims: Claims[]): Generator<SourceRow> {
  for (const line of completeLines(file).lines) {
    if (line.trim() === '') continue;
    let r: { path?: unknown; vector?: unknown; model?: unknown; layer?: unknown; error?: unknown };
    try {
      r = JSON.parse(line);
    } catch {
      throw new BackbonesError('E_USAGE', `${file} holds a line that is not JSON: it is not extract's JSONL.`);
    }
    if (r.error !== undefined) continue; // a failed image: nothing to import
    if (typeof r.path !== 'string' || !Array.isArray(r.vector)) throw new BackbonesError('E_USAGE', `${file} holds a record without path and vector: it is not extract's JSONL.`);
    claims.push({ model: String(r.model), layer: String(r.layer) });
    yield { path: r.path, vector: Float32Array.from(r.vector as number[]) };
  }
}

/** The vectors of one run spec in the Redis feature store: its keyspace (<prefix>:<model>:<layer>:<fingerprint>:). */
async function redisRows(url: string, prefix: string, p: { model: string; layer: string; record: SpecRecord }): Promise<SourceRow[]> {
  const { checkRedisUrl, connectRedis } = await import('../store/connection.js');
  const { FeatureStore } = await import('../store/redis.js');
  const { fingerprintOfKey, keyspacePattern, layerKeyspace, pathOfKey, storeKeyspace } = await import('../store/keys.js');
  // Not unref'd when idle (as a run's store is): nothing else keeps this process alive while it reads.
  const store = new FeatureStore(await connectRedis(checkRedisUrl(url, 'store import')), prefix);
  try {
    const rows: SourceRow[] = [];
    const keyspace = storeKeyspace(prefix, p.model, p.layer, p.record.fingerprint);
    let cursor = '0';
    do {
      const [next, keys] = await store.client.scan(cursor, 'MATCH', keyspacePattern(keyspace), 'COUNT', 1000);
      cursor = next;
      const paths = keys.map((k) => pathOfKey(keyspace, k)).filter((x): x is string => x !== null);
      for (const r of await store.read(keyspace, paths)) if (r && 'vector' in r) rows.push({ path: r.path, vector: r.vector });
    } while (cursor !== '0');
    if (rows.length > 0) return rows;
    // None made as the options say: name how the vectors under this model and layer were made.
    const layerspace = layerKeyspace(prefix, p.model, p.layer);
    let other: string | undefined;
    cursor = '0';
    do {
      const [next, keys] = await store.client.scan(cursor, 'MATCH', keyspacePattern(layerspace), 'COUNT', 1000);
      cursor = next;
      other = keys.map((k) => fingerprintOfKey(layerspace, k)).find((fp) => fp !== null) ?? undefined;
    } while (!other && cursor !== '0');
    if (other) {
      const diff = differences((await store.specFields(other)) ?? {}, p.record.fields);
      throw new BackbonesError('E_USAGE', `${store.connection.where} holds no vectors made as the options say under ${keyspace}, but some made another way (${diff.join('; ') || `spec ${other}`}): pass the options that made them.`);
    }
    throw new BackbonesError('E_USAGE', `No vectors under ${keyspace} in ${store.connection.where}: check -m, --layer, the spec's options and --key-prefix.`);
  } finally {
    await store.close();
  }
}

/** What the source says against what the options say: the first difference, named. */
function checkClaims(source: string, claims: Claims[], want: Claims): void {
  for (const c of claims) {
    for (const [k, v] of Object.entries(c) as [keyof Claims, string | undefined][]) {
      if (v !== undefined && v !== want[k]) {
        throw new BackbonesError('E_USAGE', `${source} says its vectors were made with ${k} ${v}, but the options say ${want[k]}: pass the options that made them.`);
      }
    }
  }
}

/** FILE.spec.json beside an output file (written since the run spec is recorded): its fields against the options'. */
function checkSourceSpec(source: string, now: SpecRecord): void {
  const sidecar = specSidecar(source);
  if (!existsSync(sidecar)) return;
  let recorded: SpecRecord;
  try {
    recorded = JSON.parse(readFileSync(sidecar, 'utf8')) as SpecRecord;
  } catch {
    throw new BackbonesError('E_USAGE', `${sidecar} cannot be read as the record of how ${source} was made.`);
  }
  const diff = differences(recorded.fields ?? {}, now.fields);
  if (diff.length > 0) throw new BackbonesError('E_USAGE', `${source} was made differently from what the options say (${diff.join('; ')}): pass the options that made it.`);
}

export async function runStoreImport(source: string, o: StoreImportOptions): Promise<number> {
  const target = lanceTarget(o.to, '--to');
  const isRedis = /^rediss?:\/\//i.test(source);
  if (!isRedis && !existsSync(source)) throw new BackbonesError('E_NOT_FOUND', `Input not found: ${source}`);
  if (!isRedis && !/\.(npy|jsonl|ndjson)$/i.test(source)) throw new BackbonesError('E_USAGE', `store import reads a .npy (with its .paths.jsonl), an extract .jsonl, or a redis:// URL; received ${source}.`);
  // The options that made the vectors, checked like any run's (the layer once the model is loaded).
  const spec = await resolveSpec(o, { task: 'extract' });
  const engine = await startEngine(spec.engine);
  log.info(`backend: ${engineLine(engine.choice)}`);
  const backbone = await loadForSpec(spec, engine);
  let made: StoredSpec;
  let want: Claims;
  try {
    const task = spec.task?.kind === 'extract' ? spec.task : undefined;
    if (!task?.layer || !backbone.hasLayer(task.layer)) throw new BackbonesError('E_USAGE', `${backbone.name} has no layer "${task?.layer ?? '(default)'}"; pass the --layer that made the vectors.`);
    made = storedSpecOf(spec, backbone);
    want = { model: backbone.name, layer: task.layer, pool: task.pool, l2: String(task.l2), preprocess: backbone.info.preprocess, weights: backbone.info.weights.kind };
  } finally {
    backbone.dispose();
  }
  // A file written since the spec was recorded says exactly how it was made: every field must agree.
  if (!isRedis) checkSourceSpec(source, made.record);
  const claims: Claims[] = [];
  const rows: SourceRow[] = isRedis ? await redisRows(source, o.keyPrefix, { model: want.model!, layer: want.layer!, record: made.record }) : [...(/\.npy$/i.test(source) ? npyRows(source) : jsonlRows(source, claims))];
  checkClaims(source, claims, want);
  let store = await storeFor(target, made);
  const done = store ? await store.paths() : new Set<string>();
  const todo = rows.filter((r) => !done.has(path.resolve(r.path)));
  if (todo.length < rows.length) log.info(`${rows.length - todo.length} of ${rows.length} paths are already in ${target.given}: skipped.`);
  const run = newRunId();
  const t0 = performance.now();
  const CHUNK = 2000;
  let stored = 0;
  try {
    for (let i = 0; i < todo.length; i += CHUNK) {
      const chunk: StoredRow[] = await Promise.all(
        todo.slice(i, i + CHUNK).map(async (r) => {
          const abs = path.resolve(r.path);
          return { path: abs, vector: r.vector, run, ...(await imageFacts(abs)) };
        }),
      );
      store ??= await LanceStore.create(target, made, chunk[0]!.vector.length);
      await store.add(chunk);
      stored += chunk.length;
    }
    const total = store ? await store.count() : 0;
    if (store && total >= INDEX_THRESHOLD && !(await store.indexed())) {
      log.info(`${target.given} has ${total} rows (≥ ${INDEX_THRESHOLD}): building its ANN index …`);
      await store.createIndex(DEFAULT_INDEX_KIND);
    }
    log.info(`imported ${stored} vectors from ${source} into ${target.given} in ${((performance.now() - t0) / 1000).toFixed(1)} s (${total} in all; fingerprint ${made.record.fingerprint}, run ${run})`);
  } catch (e) {
    if (e instanceof BackbonesError) throw e;
    throw new BackbonesError('E_STORE', `Importing into ${target.given} failed after ${stored} vectors: ${errorMessage(e)}`, { cause: e });
  } finally {
    store?.close();
  }
  return EXIT.ok;
}

export async function runStoreIndex(value: string, o: { kind: IndexKind }): Promise<number> {
  const { target, store } = await openStoreWithSpec(value, 'store index');
  try {
    const rows = await store.count();
    const t0 = performance.now();
    await store.createIndex(o.kind);
    log.info(`built a ${o.kind} index over ${rows} vectors of ${target.given} in ${((performance.now() - t0) / 1000).toFixed(1)} s; search now uses it (--exact bypasses it).`);
  } finally {
    store.close();
  }
  return EXIT.ok;
}
