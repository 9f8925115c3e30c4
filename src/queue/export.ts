// `backbones queue export -o feats.npy|feats.jsonl|feats.csv`: the queue's results
// read back from the store in input order, written through the one output lifecycle
// (lock, FILE.partial renamed at the end, FILE.spec.json). An image without a result
// (not processed yet, or its job failed) is an error record. Results made with another
// spec than the queue's (or than each other) are refused before anything is written.
import { BackbonesError, EXIT } from '../errors.js';
import { log, plural } from '../log.js';
import { openOutput, planOutput } from '../output/open.js';
import { differences, type ExpectedSpec, type SpecRecord } from '../output/spec-record.js';
import type { OutputRecord } from '../output/records.js';
import { checkRedisUrl, connectRedis } from '../store/connection.js';
import { DEFAULT_KEY_PREFIX, keyInSpace } from '../store/keys.js';
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
  const records = await store.read(paths.map((p) => keyInSpace(keyspace, p)), paths);
  return records.map((r, i) => r ?? missing(paths[i]!));
}

/**
 * The one spec the queue's results were made with: every stored result's fingerprint must
 * be the same, and agree with the fields queue add recorded; else the export is refused,
 * naming the fields that differ.
 */
async function oneSpec(store: FeatureStore, keys: ReturnType<typeof queueKeys>, keyspace: string | null, total: number, name: string): Promise<SpecRecord> {
  const { client } = store;
  const queued = await client.get(keys.spec);
  const expected: ExpectedSpec | null = queued ? (JSON.parse(queued) as ExpectedSpec) : null;
  const seen = new Set<string>();
  for (let start = 0; keyspace !== null && start < total; start += CHUNK) {
    const paths = await client.lrange(keys.paths, start, start + CHUNK - 1);
    const pipe = client.pipeline();
    for (const p of paths) pipe.hget(keyInSpace(keyspace, p), 'spec');
    for (const fp of (await execOrThrow(pipe)) as (string | null)[]) if (fp) seen.add(fp);
  }
  const records: SpecRecord[] = [];
  for (const fingerprint of seen) records.push({ fingerprint, fields: (await store.specFields(fingerprint)) ?? {} });
  const [first, second] = records;
  if (second) {
    throw new BackbonesError('E_USAGE', `The results of queue "${name}" were made ${records.length} ways (${differences(first!.fields, second.fields).join('; ')}), so they cannot go in one file; export after re-running them one way.`);
  }
  if (first && expected) {
    const diff = differences(first.fields, expected.fields, expected.pending);
    if (diff.length > 0) throw new BackbonesError('E_USAGE', `The results of queue "${name}" were made another way than its jobs ask (${diff.join('; ')}); re-run them, or export the queue they were made for.`);
  }
  return first ?? { fingerprint: '', fields: expected?.fields ?? {} };
}
