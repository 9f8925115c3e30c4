// `backbones queue export -o feats.npy|feats.jsonl|feats.csv`: the queue's results
// read back from the store in input order, written through the one output lifecycle
// (lock, FILE.partial renamed at the end, FILE.spec.json). An image without a result
// (not processed yet, or its job failed) is an error record. Results are read from the one
// keyspace the workers wrote (<prefix>:<model>:<layer>:<fingerprint>:); a spec other than the
// queue's, or images done under another keyspace, are refused before anything is written.
import { BackbonesError, EXIT } from '../errors.js';
import { log, plural } from '../log.js';
import { openOutput, planOutput } from '../output/open.js';
import { differences, type ExpectedSpec, type SpecRecord } from '../output/spec-record.js';
import type { OutputRecord } from '../output/records.js';
import { checkRedisUrl, connectRedis } from '../store/connection.js';
import { DEFAULT_KEY_PREFIX, fingerprintOfKeyspace, storeKey } from '../store/keys.js';
import { execOrThrow, FeatureStore } from '../store/redis.js';
import { DEFAULT_QUEUE, keyspaceOf, noInputs, queueKeys } from './jobs.js';

export interface QueueExportOptions {
  redis: string;
  queue?: string;
  keyPrefix?: string;
  output: string;
  format?: string;
}

const CHUNK = 500;

export async function runQueueExport(o: QueueExportOptions): Promise<number> {
  // Every rule of the output before anything is touched.
  const plan = planOutput({ output: o.output, format: o.format, kind: 'extract' });
  const name = o.queue ?? DEFAULT_QUEUE;
  const prefix = o.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const keys = queueKeys(prefix, name);
  const connection = await connectRedis(checkRedisUrl(o.redis, '--redis'));
  const { client, where } = connection;
  const store = new FeatureStore(connection, prefix);
  let rows = 0;
  let missing = 0;
  try {
    const total = await client.llen(keys.paths);
    if (total === 0) throw noInputs(name, where, keys);
    // Where the workers store (none yet: nothing was processed).
    const keyspace = await keyspaceOf(client, keys);
    const record = await oneSpec(store, keys, keyspace, total, name);
    const out = await openOutput(plan);
    try {
      out.start(record, { colour: false });
      for (let start = 0; start < total; start += CHUNK) {
        const chunk = await readChunk(store, keys, keyspace, start);
        for (const r of chunk) {
          if ('error' in r) missing += 1;
          else rows += 1;
          out.write(r);
        }
      }
      await out.commit();
    } catch (e) {
      await out.abandon();
      throw e;
    }
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
  // Every input is a row: its vector, or an error record (failed, or not processed yet).
  log.info(`exported ${plural(rows + missing, 'record')} in input order to ${o.output}${missing > 0 ? `: ${plural(rows, 'vector')} and ${plural(missing, 'error record')} (inputs that failed or are not processed yet)` : ''}`);
  return missing > 0 ? EXIT.partial : EXIT.ok;
}

/** The queue's inputs from `start` on and what the store holds for each, in input order. */
async function readChunk(store: FeatureStore, keys: ReturnType<typeof queueKeys>, keyspace: string | null, start: number): Promise<OutputRecord[]> {
  const { client } = store;
  const paths = await client.lrange(keys.paths, start, start + CHUNK - 1);
  if (paths.length === 0) return [];
  const missing = (p: string): OutputRecord => ({ path: p, error: 'no result in the store yet (not processed, or its job failed)' });
  if (keyspace === null) return paths.map(missing);
  const records = await store.read(keyspace, paths);
  return records.map((r, i) => r ?? missing(paths[i]!));
}

/**
 * The one spec the queue's results were made with: the fingerprint of the keyspace the
 * workers wrote, whose fields must agree with the ones queue add recorded; and every image
 * the queue counts as done must be in that keyspace (workers whose int8 models differ store
 * under two). Else the export is refused, naming what differs.
 */
async function oneSpec(store: FeatureStore, keys: ReturnType<typeof queueKeys>, keyspace: string | null, total: number, name: string): Promise<SpecRecord> {
  const { client } = store;
  const queued = await client.get(keys.spec);
  const expected: ExpectedSpec | null = queued ? (JSON.parse(queued) as ExpectedSpec) : null;
  const fingerprint = keyspace === null ? null : fingerprintOfKeyspace(keyspace);
  if (keyspace === null || fingerprint === null) return { fingerprint: '', fields: expected?.fields ?? {} };
  const fields = await store.specFields(fingerprint);
  if (fields && expected) {
    const diff = differences(fields, expected.fields, expected.pending);
    if (diff.length > 0) throw new BackbonesError('E_USAGE', `The results of queue "${name}" were made another way than its jobs ask (${diff.join('; ')}); re-run them, or export the queue they were made for.`);
  }
  const done = (await client.getBuffer(keys.done)) ?? Buffer.alloc(0);
  const isDone = (i: number) => ((done[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
  let elsewhere = 0;
  for (let start = 0; start < total; start += CHUNK) {
    const paths = await client.lrange(keys.paths, start, start + CHUNK - 1);
    const pipe = client.pipeline();
    for (const p of paths) pipe.exists(storeKey(keyspace, p));
    ((await execOrThrow(pipe)) as number[]).forEach((exists, i) => {
      if (exists === 0 && isDone(start + i)) elsewhere += 1;
    });
  }
  if (elsewhere > 0) {
    throw new BackbonesError('E_USAGE', `${plural(elsewhere, 'image')} of queue "${name}" ${elsewhere === 1 ? 'was' : 'were'} done under another run spec than the one under ${keyspace}, so the results cannot go in one file; re-run them one way (queue add --force), then export.`);
  }
  return { fingerprint, fields: fields ?? expected?.fields ?? {} };
}
