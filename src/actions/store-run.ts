// classify/extract --to redis://…: the Redis feature store as the run's output. The
// connection is made before the model loads (an unreachable server fails at once);
// begin() applies --resume once the model, layer and run spec are known (they name the
// keyspace), and returns a RecordWriter that writes one pipelined transaction per batch.
import path from 'node:path';
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import type { OutputRecord } from '../output/records.js';
import type { RecordWriter } from '../output/writer.js';
import type { InputEntry } from '../images/inputs.js';
import type { SpecRecord } from '../output/spec-record.js';
import { checkRedisUrl, connectRedis, redactUrl } from '../store/connection.js';
import { isLanceTarget } from '../store/lance.js';
import type { Backbone } from '../zoo/backbone.js';
import type { RunSpec } from '../spec/spec.js';
import { FeatureStore, lostConnection, type StoreSpec } from '../store/redis.js';
import { CLASSIFY_LAYER, DEFAULT_KEY_PREFIX, newRunId, runListKey, runsKey } from '../store/keys.js';
import type { Task } from '../tasks/task.js';

export interface StoreRunOptions {
  to?: string;
  keyPrefix?: string;
  /** With --resume into a file: start a file made differently again (refused with --to redis: nothing to replace). */
  overwrite?: boolean;
  resume?: boolean;
  output?: string;
}

export interface RunStore {
  /** Skips what this spec has stored (--resume), and returns the writer and the entries left. */
  begin(run: StoreRun, task: Task, record: SpecRecord): Promise<{ writer: RecordWriter; entries: InputEntry[]; skipped: number }>;
}

/** What a store needs of the run: its spec, the loaded model, and the inputs left. */
export interface StoreRun {
  spec: RunSpec;
  backbone: Backbone;
  entries: InputEntry[];
  skipped: number;
}

/** Checks the options and connects; called before the backend and model load. */
export async function openRunStore(o: StoreRunOptions, kind: 'classify' | 'extract', batchSize: number): Promise<RunStore> {
  // A .lance path or an object-store URI: the vector store (LanceDB, loaded only then).
  if (isLanceTarget(o.to!)) return (await import('./lance-run.js')).openLanceRunStore(o, kind, batchSize);
  if (!/^rediss?:\/\//i.test(o.to!)) throw new BackbonesError('E_USAGE', `--to takes a redis://… URL or a vector store PATH.lance (or s3://, gs://, az:// …/NAME.lance); received ${redactUrl(o.to!)}.`);
  const url = checkRedisUrl(o.to!, '--to');
  if (o.output) throw new BackbonesError('E_USAGE', '--to and -o are exclusive: write either to Redis or to a file.');
  // Each run spec has its own keys, so no key holds a result made another way.
  if (o.overwrite) {
    throw new BackbonesError('E_USAGE', '--overwrite has nothing to replace with --to redis://…: each run spec stores under its own keys (<prefix>:<model>:<layer>:<fingerprint>:<path>), so results made another way stay beside this run\'s, and without --resume every given image is computed again.');
  }
  const store = new FeatureStore(await connectRedis(url, { idleUnref: true }), o.keyPrefix ?? DEFAULT_KEY_PREFIX);
  log.info(`store: ${store.connection.where}, keys ${store.prefix}:<model>:<layer>:<fingerprint>:<absolute path>`);
  return {
    async begin(run, task, record) {
      const spec: StoreSpec = {
        kind: task.kind,
        model: run.backbone.name,
        layer: task.kind === 'extract' ? task.layer : CLASSIFY_LAYER,
        pool: task.kind === 'extract' ? task.pool : 'none',
        l2: task.kind === 'extract' ? task.l2 : false,
        preprocess: record.fields.preprocess!,
        weights: run.backbone.info.weights.kind,
        record,
      };
      let { entries, skipped } = run;
      // Without --resume every given image is computed and written again, as a file would be.
      if (o.resume) {
        try {
          const keys = entries.map((e) => store.key(spec, e.path));
          const done = await store.holdingResults(keys);
          if (done.size > 0) {
            const before = entries.length;
            entries = entries.filter((_, i) => !done.has(keys[i]!));
            skipped += before - entries.length;
            log.info(`Resuming: ${before - entries.length} input${before - entries.length === 1 ? '' : 's'} already in the store.`);
          }
        } catch (e) {
          await store.close();
          throw e;
        }
      }
      return { writer: storeWriter(store, spec, batchSize), entries, skipped };
    },
  };
}

/** A RecordWriter over the store: buffers a batch, then writes it in one transaction. */
function storeWriter(store: FeatureStore, spec: StoreSpec, batchSize: number): RecordWriter {
  const run = newRunId();
  const list = runListKey(store.prefix, run);
  let buffer: { key: string; record: OutputRecord }[] = [];
  let stored = 0;
  let failure: BackbonesError | undefined;
  let chain: Promise<void> = Promise.resolve();
  let first = true;
  const flush = () => {
    const batch = buffer;
    buffer = [];
    if (batch.length === 0) return;
    const registerRun = first;
    first = false;
    chain = chain.then(async () => {
      if (failure) return;
      try {
        await store.writeBatch(spec, batch, (pipe) => {
          pipe.rpush(list, ...batch.map((b) => b.key));
          if (registerRun) pipe.zadd(runsKey(store.prefix), Date.now(), run);
        });
        stored += batch.filter((b) => !('error' in b.record)).length;
      } catch (e) {
        failure = lostConnection(store.connection.where, e, stored, 'Run the same command again with --resume to store the rest.');
        store.client.disconnect();
      }
    });
  };
  return {
    write(record) {
      if (failure) throw failure;
      buffer.push({ key: store.key(spec, record.path), record: { ...record, path: path.resolve(record.path) } });
      if (buffer.length >= batchSize) flush();
    },
    async close() {
      flush();
      await chain;
      if (failure) throw failure;
      // The fingerprint is part of every key: a reader needs it (docs/redis-queue.md).
      log.info(`stored ${stored} result${stored === 1 ? '' : 's'} in ${store.connection.where} under ${store.keyspace(spec)}<absolute path> (run spec ${spec.record.fingerprint}); this run's keys are listed in ${list}`);
      await store.close();
    },
  };
}

