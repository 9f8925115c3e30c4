// Redis memory per stored vector (issue 21), measured with MEMORY USAGE … SAMPLES 0 (exact)
// on a redis-server of its own: N images (default 20,000) enqueued with the real `queue add`
// (the built CLI, default retention), then a result stored for each through the store's
// own writeBatch with the worker's queue bookkeeping (done bits, keyspace, stats).
// The vectors are SYNTHETIC (seeded random float32, 256 values = mobilenet_0.25's
// 1,024 B): memory depends on their size, not their values, and 20,000 real
// inferences would take minutes. For comparison the same images are also written in the two
// layouts before (13 fields per hash under a sha1 key; then vector, path and spec under the
// sha1 key), under other prefixes, and in the store's layout on a server with
// hash-max-listpack-value 1100 (one allocation per hash).
//   npm run build && npx tsx bench/redis-memory.ts [images=20000]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { startRedis } from '../test/helpers/redis.js';
import { connectRedis } from '../src/store/connection.js';
import { FeatureStore, type StoreSpec } from '../src/store/redis.js';
import { keyspacePattern } from '../src/store/keys.js';
import { queueKeys } from '../src/queue/jobs.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(root, 'bin', 'backbones.js');
const data = path.resolve(root, process.env.BACKBONES_TEST_DATA ?? '../shared/data');
const N = Number(process.argv[2] ?? 20_000);
const DIM = 256;
const BATCH = 8;

const server = await startRedis();
const redis = new Redis(server.url);
try {
  // N differently named links to one photo, in a folder as a user would have it.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-mem-photos-'));
  for (let i = 0; i < N; i++) symlinkSync(path.join(data, 'images', 'apple_red__opencv.jpg'), path.join(dir, `IMG_${String(i).padStart(5, '0')}.jpg`));
  const add = spawnSync(process.execPath, [BIN, 'queue', 'add', dir, '--redis', server.url, '--queue', 'mem', '-m', 'mobilenet_0.25', '--pool', 'avg', '--format', 'json'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (add.status !== 0) throw new Error(add.stderr);
  const keys = queueKeys('backbones', 'mem');
  const paths = await redis.lrange(keys.paths, 0, -1);
  const pathBytes = paths.reduce((n, p) => n + Buffer.byteLength(p), 0) / paths.length;

  /** Exact bytes of every key matching `pattern`, and how many keys. */
  const usage = async (pattern: string): Promise<{ bytes: number; keys: number }> => {
    let bytes = 0;
    let count = 0;
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
      cursor = next;
      const pipe = redis.pipeline();
      for (const k of found) pipe.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
      for (const [err, v] of (await pipe.exec()) ?? []) if (!err) bytes += Number(v);
      count += found.length;
    } while (cursor !== '0');
    return { bytes, keys: count };
  };
  const jobs = await usage('bull:mem:*');

  // The results, as the worker writes them: the store's writeBatch plus its queue bookkeeping.
  const connection = await connectRedis(server.url);
  const store = new FeatureStore(connection, 'backbones');
  const spec: StoreSpec = {
    kind: 'extract', model: 'mobilenet_0.25', layer: 'global_average_pooling2d_1', pool: 'avg', l2: false, preprocess: 'tf', weights: 'imagenet',
    record: { fingerprint: '83204a0294e5bd2f', fields: { kind: 'extract', model: 'mobilenet_0.25', layer: 'global_average_pooling2d_1', pool: 'avg' } },
  };
  let seed = 1;
  const vector = () => Float32Array.from({ length: DIM }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 6);
  const keyspace = store.keyspace(spec);
  const sha1 = (p: string) => createHash('sha1').update(p).digest('hex');
  for (let start = 0; start < N; start += BATCH) {
    const batch = paths.slice(start, start + BATCH).map((p, i) => ({ key: store.key(spec, p), index: start + i, record: { path: p, model: spec.model, layer: spec.layer, shape: [DIM], vector: vector() } }));
    await store.writeBatch(spec, batch, (pipe) => {
      pipe.set(keys.keyspace, keyspace);
      for (const b of batch) pipe.setbit(keys.done, b.index, 1).setbit(keys.failed, b.index, 0);
      pipe.hsetnx(keys.stats, 'first_ms', String(Date.now()));
      pipe.hset(keys.stats, 'last_ms', String(Date.now()));
    });
  }
  await connection.client.quit();

  // The layout before issue 21: 13 fields per image, the facts repeated in every hash.
  seed = 1;
  for (let start = 0; start < N; start += BATCH) {
    const pipe = redis.multi();
    for (const p of paths.slice(start, start + BATCH)) {
      const v = vector();
      pipe.hset(`before:mobilenet_0.25:global_average_pooling2d_1:${sha1(p)}`, {
        model: spec.model, layer: spec.layer, pool: 'avg', l2: '0', preprocess: 'tf', weights: 'imagenet', spec: spec.record.fingerprint,
        path: p, time: new Date().toISOString(), run: 'job 1', vector: Buffer.from(v.buffer), dtype: '<f4', shape: `[${DIM}]`,
      });
    }
    await pipe.exec();
  }

  // The layout between: the facts once under the spec key, but vector, path and spec in a hash under the sha1 key.
  seed = 1;
  for (let start = 0; start < N; start += BATCH) {
    const pipe = redis.multi();
    for (const p of paths.slice(start, start + BATCH)) {
      pipe.hset(`sha1:mobilenet_0.25:global_average_pooling2d_1:${sha1(p)}`, { vector: Buffer.from(vector().buffer), path: p, spec: spec.record.fingerprint });
    }
    await pipe.exec();
  }

  // The same store writes on a server told to keep hashes with values up to 1,100 B in one
  // listpack (redis.conf hash-max-listpack-value; the default, 64, keeps a 1 KiB vector apart).
  await redis.config('SET', 'hash-max-listpack-value', '1100');
  const dense = await connectRedis(server.url);
  const denseStore = new FeatureStore(dense, 'dense');
  seed = 1;
  for (let start = 0; start < N; start += BATCH) {
    const batch = paths.slice(start, start + BATCH).map((p) => ({ key: denseStore.key(spec, p), record: { path: p, model: spec.model, layer: spec.layer, shape: [DIM], vector: vector() } }));
    await denseStore.writeBatch(spec, batch);
  }
  await dense.client.quit();
  await redis.config('SET', 'hash-max-listpack-value', '64');

  const hashes = await usage(keyspacePattern(keyspace));
  const denseHashes = await usage(keyspacePattern(denseStore.keyspace(spec)));
  const fields = new Set((await redis.hkeys(store.key(spec, paths[0]!))).map(String));
  const facts = await usage('backbones:spec:*');
  const index = await usage('backbones:queue:mem:*');
  const before = await usage('before:*');
  const between = await usage('sha1:*');
  const waiting = await new Queue('mem', { connection: redis }).count();
  const per = (b: number) => b / N;
  const budget = 1.5 * (DIM * 4 + pathBytes);
  const total = hashes.bytes + facts.bytes + index.bytes;
  const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1];
  console.log(`# ${N} images, ${DIM}-value float32 vectors (${DIM * 4} B, synthetic), mean path ${pathBytes.toFixed(1)} B, redis-server ${version}, MEMORY USAGE … SAMPLES 0`);
  console.log(`payload + path: ${(DIM * 4 + pathBytes).toFixed(0)} B per image; 1.5x that: ${budget.toFixed(0)} B`);
  console.log(`store hashes:           ${per(hashes.bytes).toFixed(0)} B/image (${hashes.keys} keys ${keyspace}<path>, fields ${[...fields].join(', ')}) = ${(per(hashes.bytes) / (DIM * 4 + pathBytes)).toFixed(3)}x payload+path`);
  console.log(`spec record + facts:    ${facts.bytes} B in all (${facts.keys} key)`);
  console.log(`queue index:            ${per(index.bytes).toFixed(1)} B/image (${index.keys} keys: paths list, done/failed bits, keyspace, stats, spec)`);
  console.log(`total per stored image: ${per(total).toFixed(0)} B = ${(per(total) / (DIM * 4 + pathBytes)).toFixed(3)}x payload+path`);
  console.log(`BullMQ jobs, waiting:   ${per(jobs.bytes).toFixed(1)} B/image (${waiting} jobs of 64; retention removes completed ones but the newest 100 within a day)`);
  console.log(`hash-max-listpack-value 1100: ${per(denseHashes.bytes).toFixed(0)} B/image store hashes = ${(per(denseHashes.bytes) / (DIM * 4 + pathBytes)).toFixed(3)}x; with the queue index ${(per(denseHashes.bytes + facts.bytes + index.bytes) / (DIM * 4 + pathBytes)).toFixed(3)}x`);
  console.log(`before (13 fields):     ${per(before.bytes).toFixed(0)} B/image = ${(per(before.bytes) / (DIM * 4 + pathBytes)).toFixed(3)}x payload+path (same run)`);
  console.log(`sha1 key, {vector, path, spec}: ${per(between.bytes).toFixed(0)} B/image = ${(per(between.bytes) / (DIM * 4 + pathBytes)).toFixed(3)}x payload+path (same run)`);
} finally {
  redis.disconnect();
  await server.stop();
}
