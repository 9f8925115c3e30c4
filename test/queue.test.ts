// queue add / worker / status / export through the built CLI on a redis-server of our
// own: two workers end to end (export equals a single-process extract), a job whose
// model cannot load (retried, then reported), a worker killed with SIGKILL mid-job
// (another takes the job over; every image stored exactly once), and SIGTERM (the
// current job finishes, exit 0). Every wait is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { Queue, QueueEvents } from 'bullmq';
import { runCli, BIN } from './helpers/cli.js';
import { DATA_DIR, IMAGES, skipWithoutData } from './helpers/data.js';
import { cacheWithMobilenet025, parseJsonl } from './helpers/cache.js';
import { readNpy } from './helpers/npy.js';
import { redisForThisFile, skipWithoutRedis, startRedis, type TestRedis } from './helpers/redis.js';

const skip = skipWithoutData() || skipWithoutRedis();
let cache = '';
const env = () => ({ BACKBONES_CACHE: (cache ||= cacheWithMobilenet025()) });
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'bb-queue-'));

let server: TestRedis;
let redis: Redis;
redisForThisFile(skip, (s, c) => ((server = s), (redis = c)));

interface Running {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorker(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, 'worker', '--redis', server.url, ...args], { env: { ...process.env, ...env(), NO_COLOR: '1' } });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => stderr, exit };
}

async function status(queue: string, prefix = 'backbones'): Promise<any> {
  const r = await runCli(['queue', 'status', '--redis', server.url, '--queue', queue, '--key-prefix', prefix, '--format', 'json'], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Polls until `done` holds (bounded: `seconds`). */
async function waitFor(what: string, done: () => Promise<boolean>, seconds = 120): Promise<void> {
  for (let i = 0; i < seconds * 4; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** `count` differently named links to real photos, in one folder. */
function linkedPhotos(count: number): string {
  const dir = tmp();
  const photos = ['apple_red__opencv.jpg', 'cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png', 'mandrill_baboon__opencv.jpg'];
  for (let i = 0; i < count; i++) {
    const src = photos[i % photos.length]!;
    symlinkSync(IMAGES(src), path.join(dir, `img${String(i).padStart(4, '0')}${path.extname(src)}`));
  }
  return dir;
}

async function extractJsonl(inputs: string[]): Promise<Record<string, any>[]> {
  const r = await runCli(['extract', ...inputs, '-m', 'mobilenet_0.25'], { env: env() });
  assert.ok(r.code === 0 || r.code === 3, r.stderr);
  return parseJsonl(r.stdout);
}

test('two workers: export in input order equals a single-process extract; a job whose model cannot load is retried, then reported; SIGTERM exits 0', { skip }, async () => {
  const images = path.join(DATA_DIR, 'images');
  // Both workers up before any job exists, so that both get jobs.
  const workers = [startWorker(['--queue', 'e2e']), startWorker(['--queue', 'e2e'])];
  try {
    await waitFor('both workers to start', async () => workers.every((w) => /worker on queue/.test(w.stderr())), 60);
    const add = await runCli(['queue', 'add', images, '--redis', server.url, '--queue', 'e2e', '-m', 'mobilenet_0.25', '--job-size', '4', '--format', 'json'], { env: env() });
    assert.equal(add.code, 0, add.stderr);
    const added = JSON.parse(add.stdout);
    const total = readdirSync(images).filter((f) => /\.(jpe?g|png|webp|gif|tiff?|bmp|avif)$/i.test(f)).length;
    assert.equal(added.images, total);
    assert.equal(added.jobs, Math.ceil(total / 4));
    // A model file that exists (queue add hashes it into the spec) but no worker can load.
    const unloadable = path.join(tmp(), 'model.json');
    writeFileSync(unloadable, '{"format": "layers-model"}');
    const broken = await runCli(['queue', 'add', IMAGES('apple_red__opencv.jpg'), '--redis', server.url, '--queue', 'e2e', '--key-prefix', 'broken', '-m', unloadable, '--preprocess', 'tf', '--layer', 'x', '--attempts', '2', '--backoff', '100'], { env: env() });
    assert.equal(broken.code, 0, broken.stderr);
    await waitFor('every job to finish', async () => {
      const s = await status('e2e');
      return s.jobs.completed === added.jobs && s.jobs.failed === 1;
    });
    const s = await status('e2e');
    assert.equal(s.images.enqueued, total);
    assert.equal(s.images.done, total);
    assert.equal(s.images.failed, 1, 'the truncated JPEG is a record, not a failed job');
    assert.ok(s.imagesPerSecond > 0);
    assert.equal(s.failedJobs.length, 1);
    assert.equal(s.failedJobs[0].attempts, 2);
    assert.match(s.failedJobs[0].reason, /cannot load .*model\.json/);
    const human = await runCli(['queue', 'status', '--redis', server.url, '--queue', 'e2e'], { env: env() });
    assert.match(human.stdout, /completed \d+ +failed 1/);

    const out = path.join(tmp(), 'feats.jsonl');
    const [exported, single] = await Promise.all([
      runCli(['queue', 'export', '--redis', server.url, '--queue', 'e2e', '-o', out], { env: env() }),
      extractJsonl([images]),
    ]);
    assert.equal(exported.code, 3, exported.stderr); // the truncated JPEG
    // Every input was written: the error record counts (issue 25: it read "exported 26 rows … 1 input without a vector").
    assert.match(exported.stderr, new RegExp(`exported ${total} records in input order to .*feats\\.jsonl: ${total - 1} vectors and 1 error record \\(`));
    const rows = parseJsonl(readFileSync(out, 'utf8'));
    assert.equal(rows.length, total);
    assert.deepEqual(rows, single, 'same rows, same order, same float32 digits');
    // The same results as .npy: one row per vector in input order, its path in the sidecar, the failure in the errors one.
    const npy = path.join(tmp(), 'feats.npy');
    const asNpy = await runCli(['queue', 'export', '--redis', server.url, '--queue', 'e2e', '-o', npy], { env: env() });
    assert.equal(asNpy.code, 3, asNpy.stderr);
    const good = single.filter((r) => !('error' in r));
    const { shape, data } = readNpy(npy);
    assert.deepEqual(shape, [good.length, good[0]!.vector.length]);
    assert.deepEqual(Array.from(data), good.flatMap((r) => Array.from(Float32Array.from(r.vector as number[]))));
    assert.deepEqual(parseJsonl(readFileSync(`${npy}.paths.jsonl`, 'utf8')), good.map((r) => r.path));
    assert.deepEqual(parseJsonl(readFileSync(`${npy}.errors.jsonl`, 'utf8')).map((r) => r.path), single.filter((r) => 'error' in r).map((r) => r.path));
    // Both workers took jobs, and each loaded the model once.
    for (const w of workers) assert.equal(w.stderr().match(/^\S+ model: mobilenet_0\.25/gm)?.length, 1, w.stderr());
    // Every worker line starts with its time, so a stall or a takeover can be placed.
    for (const w of workers) for (const line of w.stderr().trim().split('\n')) assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /, line);
    assert.ok(workers.every((w) => /job \d+: \d+ stored/.test(w.stderr())), 'both workers did jobs');
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
  }
  for (const w of workers) {
    const { code } = await w.exit;
    assert.equal(code, 0, w.stderr());
    assert.match(w.stderr(), /SIGTERM: finishing the current job, then stopping/);
    assert.match(w.stderr(), /worker stopped: \d+ images stored/);
  }
});

test('SIGTERM mid-job: the worker finishes its current job, then exits 0', { skip }, async () => {
  const dir = linkedPhotos(40);
  const add = await runCli(['queue', 'add', dir, '--redis', server.url, '--queue', 'term', '--key-prefix', 'term', '-m', 'mobilenet_0.25', '--job-size', '40', '-b', '1'], { env: env() });
  assert.equal(add.code, 0, add.stderr);
  const w = startWorker(['--queue', 'term']);
  try {
    await waitFor('the first images to be stored', async () => (await redis.bitcount('term:queue:term:done')) > 0);
    w.child.kill('SIGTERM');
    const { code } = await w.exit;
    assert.equal(code, 0, w.stderr());
    const s = await status('term', 'term');
    assert.equal(s.jobs.completed, 1, 'the job in hand was finished, not abandoned');
    assert.equal(s.images.done, 40);
  } finally {
    w.child.kill('SIGKILL');
  }
});

test('kill -9 mid-job: another worker takes the job over; the store holds every image exactly once, equal to extract', { skip }, async () => {
  const n = 60;
  const dir = linkedPhotos(n);
  const add = await runCli(['queue', 'add', dir, '--redis', server.url, '--queue', 'kill', '--key-prefix', 'kill', '-m', 'mobilenet_0.25', '--job-size', String(n), '-b', '2'], { env: env() });
  assert.equal(add.code, 0, add.stderr);
  const fast = ['--queue', 'kill', '--lock-duration', '2000', '--stalled-interval', '1000'];
  const a = startWorker(fast);
  let b: Running | undefined;
  try {
    await waitFor('the first worker to store some images', async () => (await redis.bitcount('kill:queue:kill:done')) >= 4);
    a.child.kill('SIGKILL');
    assert.equal((await a.exit).signal, 'SIGKILL');
    const storedByA = await redis.bitcount('kill:queue:kill:done');
    // No worker holds the job now: once its lock expires, status says stalled, not active.
    await waitFor('the dead worker\'s job to show as stalled', async () => (await status('kill', 'kill')).jobs.stalled === 1, 30);
    assert.equal((await status('kill', 'kill')).jobs.active, 0);
    const human = await runCli(['queue', 'status', '--redis', server.url, '--queue', 'kill', '--key-prefix', 'kill'], { env: env() });
    assert.match(human.stdout, /active 0 +stalled 1 /);
    assert.ok(storedByA < n, 'killed mid-job');
    b = startWorker(fast);
    await waitFor('the second worker to finish the job', async () => (await status('kill', 'kill')).jobs.completed === 1);
    assert.match(b.stderr(), new RegExp(`job \\d+: ${n - storedByA} stored, ${storedByA} already there, 0 failed`), 'took over and skipped what was stored');
    const keys = await redis.keys('kill:mobilenet_0.25:*');
    assert.equal(keys.length, n, 'one key per image');
    assert.equal(await redis.bitcount('kill:queue:kill:done'), n, 'each image done once');
    const out = path.join(tmp(), 'feats.jsonl');
    const [exported, single] = await Promise.all([
      runCli(['queue', 'export', '--redis', server.url, '--queue', 'kill', '--key-prefix', 'kill', '-o', out], { env: env() }),
      extractJsonl([dir]),
    ]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.deepEqual(parseJsonl(readFileSync(out, 'utf8')), single);
  } finally {
    a.child.kill('SIGKILL');
    b?.child.kill('SIGTERM');
  }
  assert.equal((await b!.exit).code, 0, b!.stderr());
});

test('as BullMQ dashboards see it: progress a whole percentage, retention on every job; a re-add enqueues only new paths, --force re-enqueues and the workers skip', { skip }, async () => {
  const dir = linkedPhotos(8);
  const add = (args: string[]) => runCli(['queue', 'add', ...args, '--redis', server.url, '--queue', 'dash', '--key-prefix', 'dash', '-m', 'mobilenet_0.25', '--job-size', '4', '-b', '2', '--format', 'json'], { env: env() });
  const first = await add([dir]);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(JSON.parse(first.stdout), { queue: 'dash', prefix: 'dash', images: 8, jobs: 2, alreadyQueued: 0, alreadyDone: 0 });
  const queue = new Queue('dash', { connection: redis });
  // Progress as a dashboard reads it: BullMQ's own events and job records.
  const events = new QueueEvents('dash', { connection: { host: '127.0.0.1', port: server.port } });
  const progress: unknown[] = [];
  events.on('progress', ({ data }) => void progress.push(data));
  await events.waitUntilReady();
  const w = startWorker(['--queue', 'dash']);
  try {
    const jobs = await queue.getJobs(['waiting', 'active', 'completed']);
    assert.equal(jobs.length, 2);
    for (const j of jobs) {
      assert.deepEqual(j.opts.removeOnComplete, { age: 86_400, count: 100 }, 'default: the newest 100 completed jobs, for a day');
      assert.deepEqual(j.opts.removeOnFail, { age: 604_800 }, 'default: failed jobs for 7 days');
    }
    await waitFor('both jobs to finish', async () => (await status('dash', 'dash')).jobs.completed === 2);
    // bull-board draws job.progress only when it is a number, as "N%" (felixmosh/bull-board
    // packages/ui/src/components/JobCard/JobCard.tsx and Progress/Progress.tsx, v6): a whole percentage, 100 when done.
    for (const j of await queue.getJobs(['completed'])) assert.equal(j.progress, 100);
    await waitFor('the progress events', async () => progress.filter((p) => p === 100).length === 2, 10);
    assert.deepEqual(progress.filter((p) => !(Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 100)), [], `percentages only: ${JSON.stringify(progress)}`);
    assert.ok(progress.includes(50), `a 4-image job in batches of 2 is half done once: ${JSON.stringify(progress)}`);

    // The same folder again: nothing new, nothing enqueued, the counts unchanged.
    const again = await add([dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { queue: 'dash', prefix: 'dash', images: 0, jobs: 0, alreadyQueued: 8, alreadyDone: 8 });
    assert.match(again.stderr, /8 images were already in queue "dash" \(8 done\) and are not enqueued again; --force enqueues them again/);
    let s = await status('dash', 'dash');
    assert.deepEqual(s.images, { enqueued: 8, done: 8, stored: 8, failed: 0 });
    // The store: one hash per image under the keyspace of the workers' run spec, holding only the vector.
    const keyspace = (await redis.get('dash:queue:dash:keyspace'))!;
    const fp = /^dash:mobilenet_0\.25:global_average_pooling2d_1:([0-9a-f]{16}):$/.exec(keyspace)?.[1];
    assert.ok(fp, keyspace);
    assert.match(w.stderr(), new RegExp(`results of run spec ${fp} go under ${keyspace}<absolute path>`));
    const stored = (await redis.keys('dash:mobilenet_0.25:*')).sort();
    assert.deepEqual(stored, readdirSync(dir).sort().map((f) => `${keyspace}${path.join(dir, f)}`));
    for (const k of stored) assert.deepEqual(await redis.hkeys(k), ['vector'], 'one field per hash');
    // --force with one new photo, whose name holds ':' (the path is the key's tail): every path
    // enqueued, the stored ones skipped by the worker, counted once.
    const extra = path.join(tmp(), '12:30:00 cat.png');
    symlinkSync(IMAGES('cat_tabby_chelsea__skimage.png'), extra);
    const forced = await add([dir, extra, '--force', '--remove-on-complete', 'now']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(JSON.parse(forced.stdout), { queue: 'dash', prefix: 'dash', images: 9, jobs: 3, alreadyQueued: 0, alreadyDone: 0 });
    await waitFor('the forced jobs to finish', async () => (await status('dash', 'dash')).images.done === 9 && (await queue.getJobCounts('waiting', 'active')).waiting === 0 && (await queue.getJobCounts('active')).active === 0);
    assert.match(w.stderr(), /job \d+: 0 stored, 4 already there, 0 failed/);
    s = await status('dash', 'dash');
    assert.deepEqual(s.images, { enqueued: 9, done: 9, stored: 9, failed: 0 });
    assert.equal(s.jobs.completed, 2, '--remove-on-complete now: the forced jobs are gone once done, the first two kept');
    const out = path.join(tmp(), 'dash.jsonl');
    const exported = await runCli(['queue', 'export', '--redis', server.url, '--queue', 'dash', '--key-prefix', 'dash', '-o', out], { env: env() });
    assert.equal(exported.code, 0, exported.stderr);
    const rows = parseJsonl(readFileSync(out, 'utf8'));
    assert.deepEqual(rows.map((r) => r.path), [...readdirSync(dir).sort().map((f) => path.join(dir, f)), extra], 'one row per path, in input order');
    assert.deepEqual(await redis.hkeys(`${keyspace}${extra}`), ['vector']);
    const [single] = await extractJsonl([extra]);
    assert.deepEqual(rows.at(-1), single, 'the path with colons reads back from its key as extract writes it');
  } finally {
    w.child.kill('SIGTERM');
    await events.close();
  }
  await w.exit;
  const bad = await add([dir, '--remove-on-complete', 'soon']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(bad.stderr, 'Error: --remove-on-complete takes now, never, a number of jobs to keep, an age (30m, 24h, 7d) or both (1000,7d). Received: soon\n');
});

test('Redis URLs and queue names: a database the server lacks or one that is not a number, and a queue with no inputs, are one sentence, exit 2, nothing written', { skip }, async () => {
  const db = (d: string) => server.url.replace(/\/0$/, `/${d}`);
  const photo = IMAGES('apple_red__opencv.jpg');
  const cases: Array<[string[], RegExp]> = [
    [['queue', 'status', '--redis', db('abc')], /^Error: --redis names the database "abc"; a Redis database is a number/],
    [['queue', 'status', '--redis', db('99')], /^Error: Redis at redis:\/\/127\.0\.0\.1:\d+\/99 has no database 99 \(ERR DB index is out of range\); it has 16, 0 to 15/],
    [['queue', 'add', photo, '--redis', db('99'), '--queue', 'urls', '-m', 'mobilenet_0.25'], /has no database 99/],
    [['queue', 'add', photo, '--redis', db('abc'), '--queue', 'urls', '-m', 'mobilenet_0.25'], /names the database "abc"/],
    [['queue', 'export', '--redis', db('99'), '-o', path.join(tmp(), 'x.jsonl')], /has no database 99/],
    [['worker', '--redis', db('abc')], /names the database "abc"/],
    [['queue', 'status', '--redis', server.url, '--queue', 'nosuch'], /^Error: Queue "nosuch" at redis:\/\/127\.0\.0\.1:\d+\/0 has no inputs under backbones:queue:nosuch:paths \(check --queue and --key-prefix\)\./],
    [['queue', 'status', '--redis', server.url, '--queue', 'nosuch', '--format', 'json'], /has no inputs/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args, { env: env() });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr.replace(/^\S+Z /, ''), message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /ReplyError|\n\s+at /);
    assert.equal(r.stdout, '');
  }
  assert.deepEqual(await redis.keys('*urls*'), [], 'nothing enqueued in database 0');
});

test('Redis gone for good: the worker retries with backoff, then exits 1 with what it stored and how to go on', { skip }, async () => {
  const own = await startRedis();
  const child = spawn(process.execPath, [BIN, 'worker', '--redis', own.url], { env: { ...process.env, ...env(), NO_COLOR: '1', BACKBONES_REDIS_RECONNECTS: '2' } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<number | null>((resolve) => child.once('close', resolve));
  try {
    await waitFor('the worker to start', async () => /worker on queue/.test(stderr), 60);
    await own.stop();
    assert.equal(await exit, 1, stderr);
    assert.equal(stderr.match(/reconnecting in 250 ms \(attempt 1 of 2\)/g)?.length, 1, 'said once for its three connections');
    assert.match(stderr, /Error: Lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+\/0 .*0 images were stored before that\. Start the worker again/);
  } finally {
    child.kill('SIGKILL');
    await own.stop();
  }
});

test('queue add checks every option before it enqueues: a bad one is one sentence, exit 2, and the queue stays empty', { skip }, async () => {
  const cases: Array<[string[], RegExp]> = [
    [['--background', 'notacolour'], /--background "notacolour" is not a colour/],
    [['--decode', 'fast', '--keras-compat'], /--decode fast cannot be combined with --keras-compat/],
    [['--alpha', '0.3', '-w', 'random', '-m', 'mobilenet'], /--alpha 0\.3 is not a width mobilenet is built at/],
    [['--pool', 'avg', '-b', '100000000'], /--batch-size 100000000 is more than this machine can use/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['queue', 'add', IMAGES('apple_red__opencv.jpg'), '--redis', server.url, '--queue', 'late', '--key-prefix', 'late', '-m', 'mobilenet_0.25', ...args], { env: env() });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.deepEqual([...(await redis.keys('*late*'))], [], 'nothing enqueued, nothing recorded');
});

test('queue add --decode fast reaches the worker: its results equal extract --decode fast, not exact', { skip }, async () => {
  // The 5120x2880 photo shrinks on load under --decode fast; the small apple does not.
  const photos = [IMAGES('forest_path_5120x2880__plasma_SafeLanding.jpg'), IMAGES('apple_red__opencv.jpg')];
  const add = await runCli(['queue', 'add', ...photos, '--redis', server.url, '--queue', 'fast', '--key-prefix', 'fast', '-m', 'mobilenet_0.25', '--decode', 'fast'], { env: env() });
  assert.equal(add.code, 0, add.stderr);
  const w = startWorker(['--queue', 'fast']);
  try {
    await waitFor('the job to finish', async () => (await status('fast', 'fast')).jobs.completed === 1);
  } finally {
    w.child.kill('SIGTERM');
  }
  const out = path.join(tmp(), 'fast.jsonl');
  const exported = await runCli(['queue', 'export', '--redis', server.url, '--queue', 'fast', '--key-prefix', 'fast', '-o', out], { env: env() });
  assert.equal(exported.code, 0, exported.stderr);
  const [fast, exact] = await Promise.all(
    [['--decode', 'fast'], []].map(async (decode) => {
      const r = await runCli(['extract', ...photos, '-m', 'mobilenet_0.25', ...decode], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      return parseJsonl(r.stdout);
    }),
  );
  const rows = parseJsonl(readFileSync(out, 'utf8'));
  assert.deepEqual(rows, fast, 'the worker decoded as the job said');
  assert.notDeepEqual(rows[0]!.vector, exact![0]!.vector, 'and that differs from an exact decode of the big photo');
  assert.equal(JSON.parse(readFileSync(`${out}.spec.json`, 'utf8')).fields.decode, 'fast', 'the export records the spec its rows were made with');
  await w.exit;
});

test('queue export refuses results made another way than the queue asks, naming the fields', { skip }, async () => {
  const photo = IMAGES('apple_red__opencv.jpg');
  const add = await runCli(['queue', 'add', photo, '--redis', server.url, '--queue', 'mixed', '--key-prefix', 'mixed', '-m', 'mobilenet_0.25'], { env: env() });
  assert.equal(add.code, 0, add.stderr);
  const again = await runCli(['queue', 'add', photo, '--redis', server.url, '--queue', 'mixed', '--key-prefix', 'mixed', '-m', 'mobilenet_0.25', '--l2'], { env: env() });
  assert.equal(again.code, 2, again.stderr);
  assert.match(again.stderr, /Queue "mixed" at .* holds jobs made another way \(l2 false → true\); use another --queue, or --overwrite/);
  const w = startWorker(['--queue', 'mixed']);
  try {
    await waitFor('the job to finish', async () => (await status('mixed', 'mixed')).jobs.completed === 1);
  } finally {
    w.child.kill('SIGTERM');
  }
  await w.exit;
  // The queue asks for --l2 now: its paths are not done until a worker redoes them under that spec.
  const l2 = await runCli(['queue', 'add', photo, '--redis', server.url, '--queue', 'mixed', '--key-prefix', 'mixed', '-m', 'mobilenet_0.25', '--l2', '--overwrite'], { env: env() });
  assert.equal(l2.code, 0, l2.stderr);
  assert.deepEqual((await status('mixed', 'mixed')).images, { enqueued: 1, done: 0, stored: 0, failed: 0 });
  const dir = tmp();
  const out = path.join(dir, 'f.npy');
  const refused = await runCli(['queue', 'export', '--redis', server.url, '--queue', 'mixed', '--key-prefix', 'mixed', '-o', out], { env: env() });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /The results of queue "mixed" were made another way than its jobs ask \(l2 false → true\)/);
  assert.deepEqual(readdirSync(dir), [], 'nothing written');
  // An image the queue counts as done that is not under the workers' keyspace (workers whose
  // int8 models differ store under two fingerprints) is not mixed in either.
  const q = 'mixed:queue:mixed';
  // (the queue's spec back to the workers', so that only the stray image differs)
  const asked = (await redis.get(`${q}:spec`))!;
  assert.match(asked, /"l2":"true"/);
  await redis.set(`${q}:spec`, asked.replace('"l2":"true"', '"l2":"false"'));
  const index = (await redis.rpush(`${q}:paths`, '/elsewhere/x.jpg')) - 1;
  await redis.setbit(`${q}:done`, 0, 1);
  await redis.setbit(`${q}:done`, index, 1);
  const two = await runCli(['queue', 'export', '--redis', server.url, '--queue', 'mixed', '--key-prefix', 'mixed', '-o', out], { env: env() });
  assert.equal(two.code, 2, two.stderr);
  assert.match(two.stderr, /^Error: 1 image of queue "mixed" was done under another run spec than the one under mixed:mobilenet_0\.25:global_average_pooling2d_1:[0-9a-f]{16}:, so the results cannot go in one file; re-run them one way \(queue add --force\), then export\.\n$/);
  assert.deepEqual(readdirSync(dir), [], 'nothing written');
});

test('kill -9 during queue export leaves the earlier file intact; the export is staged, locked and records its spec', { skip }, async () => {
  const add = await runCli(['queue', 'add', IMAGES('apple_red__opencv.jpg'), '--redis', server.url, '--queue', 'big', '--key-prefix', 'big', '-m', 'mobilenet_0.25'], { env: env() });
  assert.equal(add.code, 0, add.stderr);
  // Many inputs without results (no worker runs on this queue): each is an error row, so the export takes a while.
  const paths = 'big:queue:big:paths';
  for (let i = 0; i < 20; i++) await redis.rpush(paths, ...Array.from({ length: 1000 }, (_, j) => `/shared/photos/${i}/${j}.jpg`));
  const out = path.join(tmp(), 'feats.jsonl');
  const args = ['queue', 'export', '--redis', server.url, '--queue', 'big', '--key-prefix', 'big', '-o', out];
  const first = await runCli(args, { env: env() });
  assert.equal(first.code, 3, first.stderr);
  const good = readFileSync(out);
  assert.equal(parseJsonl(good.toString()).length, 20_001);
  await redis.rpush(paths, '/shared/photos/one-more.jpg');
  await new Promise<void>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env() }, stdio: 'ignore' });
    const timer = setInterval(() => {
      if (existsSync(`${out}.partial`) || !readFileSync(out).equals(good)) child.kill('SIGKILL');
    }, 2);
    child.on('close', () => {
      clearInterval(timer);
      resolve();
    });
  });
  assert.ok(readFileSync(out).equals(good), 'the finished file is byte for byte what the first export wrote');
  assert.ok(existsSync(`${out}.spec.json`), 'the export records its spec');
  // The lock the killed export left is stale: the next export takes it over and finishes.
  const after = await runCli(args, { env: env() });
  assert.equal(after.code, 3, after.stderr);
  assert.equal(parseJsonl(readFileSync(out, 'utf8')).length, 20_002);
  assert.equal(existsSync(`${out}.partial`), false);
  assert.equal(existsSync(`${out}.lock`), false);
});
