// extract --to PATH.lance (or s3://…/x.lance): the LanceDB vector store as the run's
// output. The location and credentials are checked before the model loads; begin()
// records how the vectors are made (the run's spec), refuses a store made differently,
// applies --resume, and returns a RecordWriter that appends one transaction per batch.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { BackbonesError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { readSourceInfo } from '../images/decode.js';
import type { OutputRecord } from '../output/records.js';
import type { RecordWriter } from '../output/writer.js';
import { newRunId } from '../store/keys.js';
import { DEFAULT_INDEX_KIND, INDEX_THRESHOLD, LanceStore, lanceTarget, type LanceTarget, type StoredRow } from '../store/lance.js';
import { storedDifferences, type StoredSpec } from '../store/stored-spec.js';
import { storedSpecOf } from '../spec/stored.js';
import type { RunStore, StoreRunOptions } from './store-run.js';

/** Opens (or prepares to create) the store that `spec` describes; refuses one made differently, naming the fields. */
export async function storeFor(target: LanceTarget, spec: StoredSpec): Promise<LanceStore | null> {
  const store = await LanceStore.open(target);
  if (!store) return null;
  if (!store.spec) {
    store.close();
    throw new BackbonesError('E_USAGE', `${target.given} was not written by backbones (no spec in its metadata), so its vectors cannot be matched to a model; choose another store.`);
  }
  const differs = storedDifferences(store.spec, spec.record);
  if (differs.length > 0) {
    store.close();
    throw new BackbonesError('E_USAGE', `${target.given} holds vectors made differently (${differs.join('; ')}); use the same options or another store.`);
  }
  return store;
}

/** File size, mtime and pixel size of an image, for the keeper of a duplicate group; zeros when unreadable. */
export async function imageFacts(file: string): Promise<Pick<StoredRow, 'width' | 'height' | 'bytes' | 'mtime'>> {
  const [st, info] = await Promise.all([stat(file).catch(() => null), readSourceInfo(file)]);
  return { width: info?.width ?? 0, height: info?.height ?? 0, bytes: st?.size ?? 0, mtime: st?.mtimeMs ?? 0 };
}

/** A writer that appends rows to a store created at the first vector; `onFirst` can refuse it. */
export function lanceWriter(target: LanceTarget, spec: StoredSpec, existing: LanceStore | null, batchSize: number, run: string): RecordWriter & { stored(): number } {
  let store = existing;
  let buffer: OutputRecord[] = [];
  let stored = 0;
  let failure: unknown;
  let chain: Promise<void> = Promise.resolve();
  const flush = () => {
    const batch = buffer;
    buffer = [];
    if (batch.length === 0) return;
    chain = chain.then(async () => {
      if (failure) return;
      try {
        const rows: StoredRow[] = [];
        for (const r of batch) {
          if (!('vector' in r)) continue;
          const abs = path.resolve(r.path);
          rows.push({ path: abs, vector: r.vector, run, ...(await imageFacts(abs)) });
        }
        if (rows.length === 0) return;
        store ??= await LanceStore.create(target, spec, rows[0]!.vector.length);
        await store.add(rows);
        stored += rows.length;
      } catch (e) {
        failure = e;
      }
    });
  };
  const fail = () =>
    failure instanceof BackbonesError
      ? failure
      : new BackbonesError('E_STORE', `Writing to ${target.given} failed (${errorMessage(failure)}); ${stored} vectors were stored. Run the same command again with --resume to store the rest.`, { cause: failure });
  return {
    stored: () => stored,
    write(record) {
      if (failure) throw fail();
      buffer.push(record);
      if (buffer.length >= batchSize) flush();
    },
    async close() {
      flush();
      await chain;
      if (failure) {
        store?.close();
        throw fail();
      }
      if (store) {
        const rows = await store.count();
        if (rows >= INDEX_THRESHOLD && !(await store.indexed())) {
          log.info(`${target.given} has ${rows} rows (≥ ${INDEX_THRESHOLD}): building its ANN index (backbones store index rebuilds it) …`);
          await store.createIndex(DEFAULT_INDEX_KIND);
        }
        log.info(`stored ${stored} vector${stored === 1 ? '' : 's'} in ${target.given} (${rows} in all; fingerprint ${spec.record.fingerprint}, run ${run})`);
        store.close();
      } else log.info(`stored nothing in ${target.given}`);
    },
  };
}

/** Checks the location (and object-store credentials) before anything else starts. */
export function openLanceRunStore(o: StoreRunOptions, kind: 'classify' | 'extract', batchSize: number): RunStore {
  if (kind !== 'extract') throw new BackbonesError('E_USAGE', `--to ${o.to}: a vector store holds feature vectors; classify writes labels (use extract, or --to redis://… for labels).`);
  if (o.output) throw new BackbonesError('E_USAGE', '--to and -o are exclusive: write either to the vector store or to a file.');
  const target = lanceTarget(o.to!, '--to');
  return {
    async begin(run, task) {
      if (task.kind !== 'extract') throw new Error('a Lance store holds extract vectors');
      const spec = storedSpecOf(run.spec, run.backbone);
      const existing = await storeFor(target, spec);
      log.info(`store: ${target.given} (${existing ? `${await existing.count()} rows` : 'new'}; fingerprint ${spec.record.fingerprint})`);
      let { entries, skipped } = run;
      if (existing) {
        const done = await existing.paths();
        const stored = entries.filter((e) => done.has(path.resolve(e.path)));
        if (o.resume) {
          entries = entries.filter((e) => !done.has(path.resolve(e.path)));
          skipped += stored.length;
          if (stored.length > 0) log.info(`Resuming: ${stored.length} input${stored.length === 1 ? '' : 's'} already in the store.`);
        } else if (stored.length > 0) {
          existing.close();
          throw new BackbonesError('E_USAGE', `${stored.length} of the inputs are already in ${target.given} (e.g. ${stored[0]!.path}); pass --resume to skip them, or write to another store.`);
        }
      }
      return { writer: lanceWriter(target, spec, existing, batchSize, newRunId()), entries, skipped };
    },
  };
}
