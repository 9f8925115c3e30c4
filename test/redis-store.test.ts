// extract/classify --to redis://: the feature store through the built CLI, against a
// redis-server of our own on a free port. Vectors read back as raw float32 bytes must
// equal the JSONL extract bit for bit; the key scheme is checked literally:
// <prefix>:<model>:<layer>:<run spec fingerprint>:<absolute path>, one field per hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { runCli, BIN } from './helpers/cli.js';
import { spawn } from 'node:child_process';
import { IMAGES, skipWithoutData } from './helpers/data.js';
import { cacheWithMobilenet025, parseJsonl } from './helpers/cache.js';
import { freePort, redisForThisFile, selfSignedCert, skipWithoutRedis, startRedis, type TestRedis } from './helpers/redis.js';

const skip = skipWithoutData() || skipWithoutRedis();
const PHOTOS = ['apple_red__opencv.jpg', 'cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png'].map((f) => IMAGES(f));
const LAYER = 'global_average_pooling2d_1';
let cache = '';
const env = () => ({ BACKBONES_CACHE: (cache ||= cacheWithMobilenet025()) });
/** The run spec's fingerprint, as the run says where it stored (its last stderr line). */
const fpOf = (stderr: string) => {
  const m = /under \S+:([0-9a-f]{16}):<absolute path> \(run spec \1\)/.exec(stderr);
  assert.ok(m, `the run names its keyspace and fingerprint: ${stderr}`);
  return m[1]!;
};
const keyOf = (prefix: string, fp: string, p: string, layer = LAYER) => `${prefix}:mobilenet_0.25:${layer}:${fp}:${path.resolve(p)}`;
const floats = (b: Buffer) => Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));

let server: TestRedis;
let redis: Redis;
redisForThisFile(skip, (s, c) => ((server = s), (redis = c)));

test('extract --to redis: one hash per image under <prefix>:<model>:<layer>:<fingerprint>:<absolute path> holding only the vector, whose bytes equal the JSONL floats', { skip }, async () => {
  const [stored, jsonl] = await Promise.all([
    runCli(['extract', ...PHOTOS, '-m', 'mobilenet_0.25', '--to', server.url, '--key-prefix', 'rt'], { env: env() }),
    runCli(['extract', ...PHOTOS, '-m', 'mobilenet_0.25'], { env: env() }),
  ]);
  assert.equal(stored.code, 0, stored.stderr);
  assert.equal(stored.stdout, '', 'nothing on stdout: the results went to Redis');
  const rows = parseJsonl(jsonl.stdout);
  const fp = fpOf(stored.stderr);
  assert.match(stored.stderr, new RegExp(`spec ${fp}: kind extract, model mobilenet_0.25`), 'the header names the same fingerprint');
  for (const [i, p] of PHOTOS.entries()) {
    const h = await redis.hgetallBuffer(keyOf('rt', fp, p));
    // Per image only what it has: the path and the spec are in the key; what the run's results share is kept once, under the fingerprint.
    assert.deepEqual(Object.keys(h), ['vector'], 'one field per hash');
    const spec = JSON.parse((await redis.get(`rt:spec:${fp}`))!);
    assert.equal(spec.fingerprint, fp);
    assert.deepEqual(spec.store, { kind: 'extract', model: 'mobilenet_0.25', layer: LAYER, pool: 'none', l2: false, preprocess: 'tf', weights: 'imagenet', dtype: '<f4', shape: [256] });
    assert.equal(spec.fields.layer, LAYER);
    assert.equal(h.vector!.length, 256 * 4);
    assert.deepEqual(floats(h.vector!), Array.from(Float32Array.from(rows[i]!.vector)));
  }
  // The run's keys, in input order, in a list named by the run id in <prefix>:runs.
  const runs = await redis.zrange('rt:runs', 0, -1);
  assert.equal(runs.length, 1);
  assert.deepEqual(await redis.lrange(`rt:run:${runs[0]}`, 0, -1), PHOTOS.map((p) => keyOf('rt', fp, p)));
});

test('--pool avg stores the pooled shape; a bad image is an error hash, exit 3', { skip }, async () => {
  const bad = IMAGES('truncated__skimage.jpg');
  const r = await runCli(['extract', PHOTOS[0]!, bad, '-m', 'mobilenet_0.25', '--layer', 'conv_pw_13_relu', '--pool', 'avg', '--to', server.url, '--key-prefix', 'pool'], { env: env() });
  assert.equal(r.code, 3, r.stderr);
  const fp = fpOf(r.stderr);
  assert.deepEqual(Object.keys(await redis.hgetall(keyOf('pool', fp, PHOTOS[0]!, 'conv_pw_13_relu'))), ['vector']);
  const { store } = JSON.parse((await redis.get(`pool:spec:${fp}`))!);
  assert.deepEqual(store.shape, [256], 'one shape: the stored vector\'s, as JSONL says');
  assert.equal(store.pool, 'avg');
  const e = await redis.hgetall(keyOf('pool', fp, bad, 'conv_pw_13_relu'));
  assert.deepEqual(Object.keys(e), ['error'], 'an error hash holds the reason only');
  assert.match(e.error!, /\S/);
});

test('--resume skips images whose key holds a result; the rest are added', { skip }, async () => {
  const first = await runCli(['extract', PHOTOS[0]!, PHOTOS[1]!, '-m', 'mobilenet_0.25', '--to', server.url, '--key-prefix', 'res'], { env: env() });
  assert.equal(first.code, 0, first.stderr);
  const fp = fpOf(first.stderr);
  // A mark a rewrite (DEL + HSET) would drop.
  await redis.hset(keyOf('res', fp, PHOTOS[0]!), 'mark', '1');
  const r = await runCli(['extract', ...PHOTOS, '-m', 'mobilenet_0.25', '--to', server.url, '--key-prefix', 'res', '--resume'], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Resuming: 2 inputs already in the store/);
  assert.match(r.stderr, /1 of 1 images done/);
  assert.equal(await redis.hget(keyOf('res', fp, PHOTOS[0]!), 'mark'), '1', 'the stored image was not written again');
  assert.equal(await redis.exists(keyOf('res', fp, PHOTOS[2]!)), 1);
  // Without --resume every given image is computed and written again (the mark goes).
  const again = await runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--to', server.url, '--key-prefix', 'res'], { env: env() });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(Object.keys(await redis.hgetall(keyOf('res', fp, PHOTOS[0]!))), ['vector']);
});

test('two specs (--l2 and not) store side by side, each under its fingerprint; --resume skips only its own; --overwrite has nothing to replace', { skip }, async () => {
  const run = (args: string[]) => runCli(['extract', ...args, '-m', 'mobilenet_0.25', '--to', server.url, '--key-prefix', 'two'], { env: env() });
  const plain = await run([PHOTOS[0]!, PHOTOS[1]!]);
  assert.equal(plain.code, 0, plain.stderr);
  const fp = fpOf(plain.stderr);
  const original = await redis.hgetBuffer(keyOf('two', fp, PHOTOS[0]!), 'vector');
  const l2 = await run([PHOTOS[2]!, '--l2']);
  assert.equal(l2.code, 0, l2.stderr);
  const fpL2 = fpOf(l2.stderr);
  assert.notEqual(fpL2, fp);
  // --resume --l2 over all three: only its own stored image is skipped, not the plain spec's two.
  const resumedL2 = await run([...PHOTOS, '--l2', '--resume']);
  assert.equal(resumedL2.code, 0, resumedL2.stderr);
  assert.match(resumedL2.stderr, /Resuming: 1 input already in the store/);
  assert.match(resumedL2.stderr, /2 of 2 images done/);
  assert.deepEqual(await redis.hgetBuffer(keyOf('two', fp, PHOTOS[0]!), 'vector'), original, 'the plain spec\'s result is left as it was');
  const v = floats((await redis.hgetBuffer(keyOf('two', fpL2, PHOTOS[0]!), 'vector'))!);
  assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, 'beside it, the L2-normalised vector');
  assert.equal(JSON.parse((await redis.get(`two:spec:${fpL2}`))!).fields.l2, 'true');
  assert.equal(JSON.parse((await redis.get(`two:spec:${fp}`))!).fields.l2, 'false');
  // --resume without --l2: its two are skipped, the third (stored only with --l2) is computed.
  const resumed = await run([...PHOTOS, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /Resuming: 2 inputs already in the store/);
  assert.match(resumed.stderr, /1 of 1 images done/);
  const keys = (await redis.keys('two:mobilenet_0.25:*')).sort();
  assert.deepEqual(keys, [...PHOTOS.map((p) => keyOf('two', fp, p)), ...PHOTOS.map((p) => keyOf('two', fpL2, p))].sort(), 'each image once per spec');
  const refused = await run([PHOTOS[0]!, '--l2', '--overwrite']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(refused.stderr, "Error: --overwrite has nothing to replace with --to redis://…: each run spec stores under its own keys (<prefix>:<model>:<layer>:<fingerprint>:<path>), so results made another way stay beside this run's, and without --resume every given image is computed again.\n");
});

test('unreachable Redis: one sentence naming the URL without its password, exit 1, before the model loads', { skip }, async () => {
  const port = await freePort();
  const r = await runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--to', `redis://:hunter2@127.0.0.1:${port}/0`], { env: env() });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`Error: Cannot reach Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0: connect ECONNREFUSED`));
  assert.doesNotMatch(r.stderr, /hunter2|model:|\n\s+at /);
  const bad = await runCli(['extract', PHOTOS[0]!, '--to', 'http://127.0.0.1:1/'], { env: env() });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--to takes a redis:\/\/… URL or a vector store PATH\.lance/);
});

test('the URL\'s database: a number the server has is used; one it lacks, or not a number, is one sentence, exit 2, nothing written', { skip }, async () => {
  const three = server.url.replace(/\/0$/, '/3');
  const ok = await runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--to', three, '--key-prefix', 'db'], { env: env() });
  assert.equal(ok.code, 0, ok.stderr);
  const fp = fpOf(ok.stderr);
  const db3 = new Redis(three);
  try {
    assert.equal(await db3.exists(keyOf('db', fp, PHOTOS[0]!)), 1, 'in database 3');
  } finally {
    db3.disconnect();
  }
  assert.equal(await redis.exists(keyOf('db', fp, PHOTOS[0]!)), 0, 'not in database 0');
  const missing = await runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--to', server.url.replace(/\/0$/, '/99'), '--key-prefix', 'db99'], { env: env() });
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /^Error: Redis at redis:\/\/127\.0\.0\.1:\d+\/99 has no database 99 \(ERR DB index is out of range\); it has 16, 0 to 15: put one of those in the URL\.\n$/);
  const named = await runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--to', server.url.replace(/\/0$/, '/abc'), '--key-prefix', 'dbabc'], { env: env() });
  assert.equal(named.code, 2, named.stderr);
  assert.match(named.stderr, /^Error: --to names the database "abc"; a Redis database is a number \(redis:\/\/host:port\/0\)\. Received: redis:\/\/127\.0\.0\.1:\d+\/abc\n$/);
  assert.deepEqual(await redis.keys('db9*'), [], 'nothing written to database 0');
  assert.deepEqual(await redis.keys('dbabc*'), []);
});

test('store import redis://: the vectors read back with their spec\'s facts; options that disagree with them are refused', { skip }, async () => {
  const put = await runCli(['extract', ...PHOTOS, '-m', 'mobilenet_0.25', '--to', server.url, '--key-prefix', 'imp'], { env: env() });
  assert.equal(put.code, 0, put.stderr);
  const lance = path.join(mkdtempSync(path.join(os.tmpdir(), 'bb-redis-imp-')), 'imp.lance');
  const imp = await runCli(['store', 'import', server.url, '--key-prefix', 'imp', '--to', lance, '-m', 'mobilenet_0.25'], { env: env() });
  assert.equal(imp.code, 0, imp.stderr);
  const found = await runCli(['search', PHOTOS[1]!, '--in', lance, '-k', '1', '--format', 'jsonl'], { env: env() });
  assert.equal(found.code, 0, found.stderr);
  const hit = JSON.stringify(parseJsonl(found.stdout));
  assert.ok(hit.includes(JSON.stringify(path.resolve(PHOTOS[1]!))), hit);
  const wrong = await runCli(['store', 'import', server.url, '--key-prefix', 'imp', '--to', lance.replace('imp.lance', 'l2.lance'), '-m', 'mobilenet_0.25', '--l2'], { env: env() });
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /^Error: redis:\/\/127\.0\.0\.1:\d+\/0 holds no vectors made as the options say under imp:mobilenet_0\.25:global_average_pooling2d_1:[0-9a-f]{16}:, but some made another way \(l2 false → true\): pass the options that made them\.$/m);
});

test('password: a wrong one and a missing one are one sentence each; the right one stores classify predictions as JSON', { skip }, async () => {
  const locked = await startRedis({ password: 's3cret' });
  try {
    const wrong = locked.url.replace('s3cret', 'nope');
    const w = await runCli(['classify', PHOTOS[1]!, '-m', 'mobilenet_0.25', '--to', wrong], { env: env() });
    assert.equal(w.code, 1, w.stderr);
    assert.match(w.stderr, /Error: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 refused the user name or password \(WRONGPASS/);
    assert.doesNotMatch(w.stderr, /nope/);
    const none = await runCli(['classify', PHOTOS[1]!, '-m', 'mobilenet_0.25', '--to', locked.url.replace(':s3cret@', '')], { env: env() });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /needs a password/);
    const [ok, jsonl] = await Promise.all([
      runCli(['classify', PHOTOS[1]!, '-m', 'mobilenet_0.25', '-k', '3', '--to', locked.url], { env: env() }),
      runCli(['classify', PHOTOS[1]!, '-m', 'mobilenet_0.25', '-k', '3', '--format', 'jsonl'], { env: env() }),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const client = new Redis(locked.url);
    try {
      const h = await client.hgetall(keyOf('backbones', fpOf(ok.stderr), PHOTOS[1]!, 'classify'));
      assert.deepEqual(Object.keys(h), ['predictions']);
      assert.deepEqual(JSON.parse(h.predictions!), parseJsonl(jsonl.stdout)[0]!.predictions);
    } finally {
      client.disconnect();
    }
  } finally {
    await locked.stop();
  }
});

test('connection lost mid-run: retries, then stops with exit 1, the count stored and how to resume', { skip }, async () => {
  const lost = await startRedis();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-redis-lost-'));
  const inputs: string[] = [];
  for (let i = 0; i < 400; i++) {
    const p = path.join(dir, `img${String(i).padStart(3, '0')}.png`);
    symlinkSync(PHOTOS[1]!, p);
    inputs.push(p);
  }
  const client = new Redis(lost.url);
  try {
    const child = spawn(process.execPath, [BIN, 'extract', dir, '-m', 'mobilenet_0.25', '-b', '1', '--to', lost.url], { env: { ...process.env, ...env(), NO_COLOR: '1', BACKBONES_REDIS_RECONNECTS: '2' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    // Kill the server once some images are stored (bounded: 60 s).
    for (let i = 0; i < 600 && (await client.dbsize()) < 5; i++) await new Promise((r) => setTimeout(r, 100));
    client.disconnect();
    await lost.stop();
    const code = await exited;
    assert.equal(code, 1, stderr);
    assert.match(stderr, /reconnecting in 250 ms \(attempt 1 of 2\)/);
    assert.match(stderr, /reconnecting in 500 ms \(attempt 2 of 2\)/);
    assert.match(stderr, /Error: Lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+\/0 .*did not come back; \d+ images were stored before that\. Run the same command again with --resume/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  } finally {
    client.disconnect();
    await lost.stop();
  }
});

test('rediss:// speaks TLS: with the server\'s CA trusted it stores; without it, one sentence', { skip }, async (t) => {
  const files = selfSignedCert(mkdtempSync(path.join(os.tmpdir(), 'bb-redis-tls-')));
  if (typeof files === 'string') return t.skip(files);
  const tls = await startRedis({ tls: files });
  try {
    assert.match(tls.url, /^rediss:/);
    const ok = await runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--to', tls.url], { env: { ...env(), NODE_EXTRA_CA_CERTS: files.ca } });
    assert.equal(ok.code, 0, ok.stderr);
    const client = new Redis(tls.url, { tls: { ca: readFileSync(files.ca) } });
    try {
      assert.equal((await client.hgetBuffer(keyOf('backbones', fpOf(ok.stderr), PHOTOS[0]!), 'vector'))?.length, 256 * 4);
    } finally {
      client.disconnect();
    }
    const untrusted = await runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--to', tls.url], { env: env() });
    assert.equal(untrusted.code, 1, untrusted.stderr);
    assert.match(untrusted.stderr, /Error: Cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+\/0: .*self-signed certificate/);
  } finally {
    await tls.stop();
  }
});
