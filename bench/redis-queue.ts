// The Redis feature store and the BullMQ queue, measured through the built CLI
// (run `npm run build` first) against a redis-server of its own on a free port:
//   1. `extract --to redis` vs `extract -o file.jsonl` on the same inputs, interleaved
//      rounds; throughput is the CLI's own "N images done in S s" line (model load excluded).
//   2. one local worker vs two (2 threads each, and 1 thread each) on the same queue;
//      images/s from the queue's stats (first job start → last write).
//   3. the kill-9 drill: 2 workers, 500 images, one killed with SIGKILL mid-run; the export
//      must have 500 rows, each equal to a single-process extract.
//   npx tsx bench/redis-queue.ts [images=240] [rounds=3]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis } from '../test/helpers/redis.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(root, 'bin', 'backbones.js');
const data = path.resolve(root, process.env.BACKBONES_TEST_DATA ?? '../shared/data');
const N = Number(process.argv[2] ?? 240);
const ROUNDS = Number(process.argv[3] ?? 3);
const DRILL = 500;

// The weights cache as `models pull mobilenet_0.25` leaves it, linked to the shared model.
const cache = mkdtempSync(path.join(os.tmpdir(), 'bb-bench-cache-'));
mkdirSync(path.join(cache, 'mobilenet_0.25'));
symlinkSync(path.join(data, 'models', 'mobilenet_v1_0.25_224'), path.join(cache, 'mobilenet_0.25', 'model'));
const env = { ...process.env, BACKBONES_CACHE: cache, NO_COLOR: '1' };

/** `count` differently named links to real photos (the 5120×2880 one would dominate decoding). */
function linkedPhotos(count: number): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-bench-imgs-'));
  const photos = ['apple_red__opencv.jpg', 'cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png', 'mandrill_baboon__opencv.jpg', 'rocket_falcon9_launchpad__skimage.jpg', 'samoyeds_two_under_tree__forensics.jpg'];
  for (let i = 0; i < count; i++) {
    const src = photos[i % photos.length]!;
    symlinkSync(path.join(data, 'images', src), path.join(dir, `img${String(i).padStart(4, '0')}${path.extname(src)}`));
  }
  return dir;
}

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function imagesPerSecond(stderr: string): number {
  const m = stderr.match(/(\d+) of \d+ images done in ([\d.]+) s/);
  if (!m) throw new Error(`no summary line in: ${stderr}`);
  return Number(m[1]) / Number(m[2]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function startWorker(url: string, args: string[]): { child: ChildProcess; exit: Promise<number | null>; log: () => string } {
  const child = spawn(process.execPath, [BIN, 'worker', '--redis', url, ...args], { env });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stdout!.resume();
  return { child, exit: new Promise((resolve) => child.once('close', resolve)), log: () => log };
}

async function waitFor(done: () => Promise<boolean>, seconds: number): Promise<void> {
  for (let i = 0; i < seconds * 5; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('timed out');
}

const server = await startRedis();
const redis = new Redis(server.url);
const dir = linkedPhotos(N);
const out = mkdtempSync(path.join(os.tmpdir(), 'bb-bench-out-'));
console.log(`# ${N} images (6 photos linked under different names), mobilenet_0.25 (real weights), backend auto (onnx), batch 8, redis-server ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1]} on 127.0.0.1`);

// 1. extract --to redis vs -o file.jsonl, interleaved.
cli(['extract', dir, '-m', 'mobilenet_0.25', '-o', path.join(out, 'warm.jsonl')]); // warm the page cache
const file: number[] = [];
const store: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const a = cli(['extract', dir, '-m', 'mobilenet_0.25', '-o', path.join(out, `r${r}.jsonl`)]);
  if (a.code !== 0) throw new Error(a.stderr);
  file.push(imagesPerSecond(a.stderr));
  const b = cli(['extract', dir, '-m', 'mobilenet_0.25', '--to', server.url, '--key-prefix', `bench${r}`]);
  if (b.code !== 0) throw new Error(b.stderr);
  store.push(imagesPerSecond(b.stderr));
}
console.log(`\n## extract: -o file.jsonl vs --to redis (${ROUNDS} interleaved rounds, img/s)`);
console.log(`file.jsonl: ${file.map((x) => x.toFixed(1)).join(', ')} (median ${median(file).toFixed(1)})`);
console.log(`--to redis: ${store.map((x) => x.toFixed(1)).join(', ')} (median ${median(store).toFixed(1)})`);
console.log(`ratio redis/file (medians): ${((100 * median(store)) / median(file)).toFixed(1)} %; per round: ${store.map((s, i) => ((100 * s) / file[i]!).toFixed(1) + ' %').join(', ')}`);

// 2. one worker vs two.
async function queueRun(name: string, workers: number, threads: string[]): Promise<number> {
  const ws = Array.from({ length: workers }, () => startWorker(server.url, ['--queue', name, ...threads]));
  await waitFor(async () => ws.every((w) => /worker on queue/.test(w.log())), 60);
  const add = cli(['queue', 'add', dir, '--redis', server.url, '--queue', name, '--key-prefix', name, '-m', 'mobilenet_0.25', '--job-size', '16']);
  if (add.code !== 0) throw new Error(add.stderr);
  await waitFor(async () => (await redis.bitcount(`${name}:queue:${name}:done`)) >= N, 600);
  for (const w of ws) w.child.kill('SIGTERM');
  await Promise.all(ws.map((w) => w.exit));
  const s = await redis.hgetall(`${name}:queue:${name}:stats`);
  return (await redis.bitcount(`${name}:queue:${name}:done`)) / ((Number(s.last_ms) - Number(s.first_ms)) / 1000);
}
const one: number[] = [];
const two: number[] = [];
const twoT1: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  one.push(await queueRun(`one${r}`, 1, []));
  two.push(await queueRun(`two${r}`, 2, []));
  twoT1.push(await queueRun(`twot${r}`, 2, ['--threads', '1']));
}
console.log(`\n## queue: workers on this machine (${N} images, job size 16, ${ROUNDS} interleaved rounds, img/s from first job start to last write)`);
console.log(`1 worker (2 threads):   ${one.map((x) => x.toFixed(1)).join(', ')} (median ${median(one).toFixed(1)})`);
console.log(`2 workers (2 threads):  ${two.map((x) => x.toFixed(1)).join(', ')} (median ${median(two).toFixed(1)}, ${((100 * median(two)) / median(one)).toFixed(0)} % of one)`);
console.log(`2 workers (--threads 1): ${twoT1.map((x) => x.toFixed(1)).join(', ')} (median ${median(twoT1).toFixed(1)}, ${((100 * median(twoT1)) / median(one)).toFixed(0)} % of one)`);

// 3. kill-9 drill.
const drillDir = linkedPhotos(DRILL);
const q = 'drill';
const fast = ['--queue', q, '--lock-duration', '5000', '--stalled-interval', '2000'];
const add = cli(['queue', 'add', drillDir, '--redis', server.url, '--queue', q, '--key-prefix', q, '-m', 'mobilenet_0.25', '--job-size', '25']);
if (add.code !== 0) throw new Error(add.stderr);
const t0 = Date.now();
const victim = startWorker(server.url, fast);
const survivor = startWorker(server.url, fast);
const doneKey = `${q}:queue:${q}:done`;
await waitFor(async () => (await redis.bitcount(doneKey)) >= DRILL * 0.4, 600);
victim.child.kill('SIGKILL');
const atKill = await redis.bitcount(doneKey);
await victim.exit;
await waitFor(async () => (await redis.hlen(`${q}:queue:${q}:keys`)) >= DRILL, 600);
const seconds = (Date.now() - t0) / 1000;
survivor.child.kill('SIGTERM');
await survivor.exit;
const exported = cli(['queue', 'export', '--redis', server.url, '--queue', q, '--key-prefix', q, '-o', path.join(out, 'drill.jsonl')]);
const single = cli(['extract', drillDir, '-m', 'mobilenet_0.25', '-o', path.join(out, 'single.jsonl')]);
const rows = readFileSync(path.join(out, 'drill.jsonl'), 'utf8').trim().split('\n');
const ref = readFileSync(path.join(out, 'single.jsonl'), 'utf8').trim().split('\n');
const equal = rows.filter((row, i) => row === ref[i]).length;
const keys = (await redis.keys(`${q}:mobilenet_0.25:*`)).length;
const takeover = survivor.log().match(/job \d+: \d+ stored, [1-9]\d* already there/g) ?? [];
const stalled = survivor.log().match(/job \d+ stalled/g) ?? [];
console.log(`\n## kill-9 drill: ${DRILL} images, 2 workers (lock 5 s, stalled check 2 s), job size 25`);
console.log(`killed one worker (SIGKILL) at ${atKill} images stored; survivor finished; ${seconds.toFixed(1)} s in all`);
console.log(`export exit ${exported.code}: ${rows.length} rows; ${equal} byte-identical to a single-process extract's JSONL; ${keys} store keys; jobs found stalled by the survivor: ${stalled.length}; its takeover lines: ${takeover.join('; ') || 'none (the killed job had stored nothing yet)'}`);
redis.disconnect();
await server.stop();
