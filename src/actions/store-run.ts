// classify/extract --to redis://…: the Redis feature store as the run's output. The
// connection is made before the model loads (an unreachable server fails at once);
// begin() applies --resume and the overwrite check once the model and layer are
// known, and returns a RecordWriter that writes one pipelined transaction per batch.
import path from 'node:path';
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import type { OutputRecord } from '../output/records.js';
import type { RecordWriter } from '../output/writer.js';
import type { InputEntry } from '../images/inputs.js';
import type { Backbone } from '../zoo/backbone.js';
import { checkRedisUrl, connectRedis, redactUrl } from '../store/connection.js';
import { FeatureStore, lostConnection, type StoreSpec } from '../store/redis.js';
import { CLASSIFY_LAYER, DEFAULT_KEY_PREFIX, newRunId, runListKey, runsKey } from '../store/keys.js';
import type { Task } from '../tasks/task.js';
import type { ImageSettings } from '../pipeline/batches.js';
import { isLanceTarget } from '../store/lance.js';

export interface StoreRunOptions {
  to?: string;
  weights?: string;
  seed?: number;
  keyPrefix?: string;
  overwrite?: boolean;
  resume?: boolean;
  output?: string;
  batchSize: number;
}

export interface RunStore {
  /** Filters `prepared.entries` for --resume, refuses conflicts, and returns the writer. */
  begin(prepared: { backbone: Backbone; entries: InputEntry[]; skipped: number; settings: ImageSettings }, task: Task): Promise<RecordWriter>;
}

/** Checks the options and connects; called before the backend and model load. */
export async function openRunStore(o: StoreRunOptions, kind: 'classify' | 'extract'): Promise<RunStore> {
  // A .lance path or an object-store URI: the vector store (LanceDB, loaded only then).
  if (isLanceTarget(o.to!)) return (await import('./lance-run.js')).openLanceRunStore(o, kind);
  if (!/^rediss?:\/\//i.test(o.to!)) throw new BackbonesError('E_USAGE', `--to takes a redis://… URL or a vector store PATH.lance (or s3://, gs://, az:// …/NAME.lance); received ${redactUrl(o.to!)}.`);
  const url = checkRedisUrl(o.to!, '--to');
  if (o.output) throw new BackbonesError('E_USAGE', '--to and -o are exclusive: write either to Redis or to a file.');
  const store = new FeatureStore(await connectRedis(url, { idleUnref: true }), o.keyPrefix ?? DEFAULT_KEY_PREFIX);
  log.info(`store: ${store.connection.where}, keys ${store.prefix}:<model>:<layer>:<sha1 of path>`);
  return {
    async begin(prepared, task) {
      const spec: StoreSpec = {
        kind: task.kind,
        model: prepared.backbone.name,
        layer: task.kind === 'extract' ? task.layer : CLASSIFY_LAYER,
        pool: task.kind === 'extract' ? task.pool : 'none',
        l2: task.kind === 'extract' ? task.l2 : false,
        preprocess: prepared.settings.preprocess,
        weights: prepared.backbone.info.weights.kind,
      };
      try {
        const keys = prepared.entries.map((e) => store.key(spec, e.path));
        const { done, conflicts } = await store.existing(keys, spec);
        if (conflicts.size > 0 && !o.overwrite) {
          const [key, what] = conflicts.entries().next().value!;
          throw new BackbonesError(
            'E_USAGE',
            `${conflicts.size} key${conflicts.size === 1 ? '' : 's'} already hold${conflicts.size === 1 ? 's' : ''} a result made differently (${key}: ${what}); pass --overwrite to replace them, or choose another --key-prefix.`,
          );
        }
        if (o.resume && done.size > 0) {
          const before = prepared.entries.length;
          prepared.entries = prepared.entries.filter((_, i) => !done.has(keys[i]!));
          prepared.skipped += before - prepared.entries.length;
          log.info(`Resuming: ${before - prepared.entries.length} input${before - prepared.entries.length === 1 ? '' : 's'} already in the store.`);
        }
      } catch (e) {
        await store.close();
        throw e;
      }
      return storeWriter(store, spec, o.batchSize);
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
        await store.writeBatch(spec, batch, run, (pipe) => {
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
      log.info(`stored ${stored} result${stored === 1 ? '' : 's'} in ${store.connection.where} under ${store.prefix}:${spec.model}:${spec.layer}:…; this run's keys are listed in ${list}`);
      await store.close();
    },
  };
}
