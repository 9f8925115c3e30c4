// Load test of `backbones serve` with autocannon and real JPEGs (../shared/data/images,
// all JPEGs but the truncated one and the 5120x2880 one, whose decode alone would dominate):
//   1. concurrency 1, 8, 32, 128 against one server (dynamic batching, --max-batch 8):
//      throughput, p50/p99, mean batch size (from /metrics), CPU and RSS of the server;
//   2. 4x overload: 128 connections against --max-queue 32: how fast 503s come, and
//      whether accepted requests still meet --timeout-ms;
//   3. RSS over a long run (--soak N requests at concurrency 32);
//   4. the write-up's deployment shape: N processes each loading the model, no batching
//      (--max-batch 1), load spread evenly over them, same concurrency;
//   5. interleaved rounds at 32 connections: the batching server, the N-process shape and
//      `backbones bench --images` end to end on the same model and the same files.
// Each run is preceded by an untimed warm-up at the same concurrency.
//   npx tsx bench/serve-load.ts [--model mobilenet] [--weights random] [--duration 10]
//       [--concurrency 1,8,32,128] [--soak 20000] [--shape-workers 2] [--decode exact|fast]
//       [--sections 1,2,3,4,5]  (ROUNDS=3 interleaved rounds in section 5)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'mobilenet' },
    weights: { type: 'string', default: 'random' },
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,8,32,128' },
    soak: { type: 'string', default: '20000' },
    'shape-workers': { type: 'string', default: '2' },
    sections: { type: 'string', default: '1,2,3,4,5' },
    decode: { type: 'string', default: 'exact' },
  },
});
const duration = Number(args.duration);
const sections = new Set(args.sections!.split(',').map(Number));
const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin', 'backbones.js');
const dataDir = path.resolve(root, process.env.BACKBONES_TEST_DATA ?? '../shared/data');
const imageDir = path.join(dataDir, 'images');
const files = readdirSync(imageDir).filter((f) => /\.jpe?g$/i.test(f) && !f.startsWith('truncated') && !f.startsWith('forest_path')).sort();
const bodies = files.map((f) => readFileSync(path.join(imageDir, f)));
const MIB = 1024 * 1024;
let turn = 0;
const nextBody = (): Buffer => bodies[turn++ % bodies.length]!;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Server {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startServer(extra: string[]): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [bin, '--backend', 'onnx', 'serve', '-m', args.model!, '--weights', args.weights!, '--port', String(port), '--log-level', 'warn', '--decode', args.decode!, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    if (i > 600) throw new Error(`server not ready after 60 s: ${stderr}`);
    try {
      if ((await fetch(`${url}/v2/health/ready`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('close', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** CPU seconds (user + system) and RSS bytes of a process, from /proc. */
function procSample(pid: number): { cpuS: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return { cpuS: ticks / 100, rss: rssKb * 1024 };
}

async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    m.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return m;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface LoadResult {
  seconds: number;
  byStatus: Map<number, number[]>;
  errors: number;
  cpuPercent: number;
  rssPeak: number;
  rssEnd: number;
  rssSamples: { atRequest: number; rss: number }[];
  meanBatch: number | null;
}

/** Drives the servers with `connections` split evenly, for `seconds` or `amount` requests. */
async function load(servers: Server[], connections: number, opts: { seconds?: number; amount?: number }): Promise<LoadResult> {
  const byStatus = new Map<number, number[]>();
  let errors = 0;
  let done = 0;
  const pids = servers.map((s) => s.child.pid!);
  const before = pids.map(procSample);
  const metricsBefore = await Promise.all(servers.map((s) => scrape(s.url)));
  let rssPeak = 0;
  const rssSamples: { atRequest: number; rss: number }[] = [];
  const sampler = setInterval(() => {
    const rss = pids.map(procSample).reduce((s, x) => s + x.rss, 0);
    rssPeak = Math.max(rssPeak, rss);
    rssSamples.push({ atRequest: done, rss });
  }, 250);
  const t0 = performance.now();
  await Promise.all(
    servers.map((server, i) => {
      const share = Math.floor(connections / servers.length) + (i < connections % servers.length ? 1 : 0);
      if (share === 0) return Promise.resolve();
      const instance = autocannon({
        url: server.url,
        connections: share,
        pipelining: 1,
        timeout: 60,
        ...(opts.amount ? { amount: Math.round(opts.amount / servers.length) } : { duration: opts.seconds }),
        // One shared turn over the files for every connection: with a per-connection list
        // (autocannon's default) all connections start on the same file and move in lockstep,
        // so at 128 connections a 10 s run sees mostly the first two files.
        requests: [{ method: 'POST', path: '/v1/classify?k=5', headers: { 'content-type': 'image/jpeg' }, setupRequest: (req: object) => ({ ...req, body: nextBody() }) }],
      });
      instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
        done += 1;
        const list = byStatus.get(status) ?? [];
        list.push(ms);
        byStatus.set(status, list);
      });
      instance.on('reqError', () => (errors += 1));
      return instance;
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const after = pids.map(procSample);
  const metricsAfter = await Promise.all(servers.map((s) => scrape(s.url)));
  const delta = (name: string) => metricsAfter.reduce((s, m, i) => s + (m.get(name) ?? 0) - (metricsBefore[i]!.get(name) ?? 0), 0);
  const batches = delta('backbones_batch_size_count');
  for (const list of byStatus.values()) list.sort((a, b) => a - b);
  return {
    seconds,
    byStatus,
    errors,
    cpuPercent: (100 * after.reduce((s, x, i) => s + x.cpuS - before[i]!.cpuS, 0)) / seconds,
    rssPeak,
    rssEnd: after.reduce((s, x) => s + x.rss, 0),
    rssSamples,
    meanBatch: batches > 0 ? delta('backbones_batch_size_sum') / batches : null,
  };
}

const ok = (r: LoadResult) => r.byStatus.get(200) ?? [];
const count = (r: LoadResult, status: number) => r.byStatus.get(status)?.length ?? 0;
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const others = (r: LoadResult) =>
  [...r.byStatus.entries()].filter(([s]) => s !== 200).map(([s, l]) => `${l.length}×${s}`).concat(r.errors ? [`${r.errors} socket errors`] : []).join(', ') || 'none';

function row(label: string, c: number, r: LoadResult): string {
  const lat = ok(r);
  return `| ${label} | ${c} | ${fmt(lat.length / r.seconds)} | ${fmt(percentile(lat, 50))} | ${fmt(percentile(lat, 99))} | ${r.meanBatch === null ? 'n/a' : fmt(r.meanBatch, 2)} | ${fmt(r.cpuPercent, 0)} | ${fmt(r.rssPeak / MIB, 0)} | ${others(r)} |`;
}

const header = '| server | connections | ok req/s | p50 ms | p99 ms | mean batch | CPU % | peak RSS MiB | other answers |\n|---|---:|---:|---:|---:|---:|---:|---:|---|';
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`# serve-load ${new Date().toISOString()}`);
console.log(`machine: ${cpu}, ${os.cpus().length} logical cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; load average before: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`model ${args.model} --weights ${args.weights}, onnx backend, --decode ${args.decode}; ${files.length} JPEGs cycled in one shared turn: ${files.join(', ')}`);
console.log(`each run: ${Math.min(3, duration)} s warm-up (excluded), then ${duration} s; latency = autocannon's response time; CPU % = server CPU time / wall (100 = one core)\n`);

// 1. Concurrency sweep against one batching server.
const levels = args.concurrency!.split(',').map(Number);
if (sections.has(1) || sections.has(3)) {
const batching = await startServer(['--max-batch', '8', '--max-delay-ms', '5', '--max-queue', '256']);
if (sections.has(1)) {
console.log('## 1. one process, dynamic batching (--max-batch 8 --max-delay-ms 5 --max-queue 256)\n');
console.log(header);

for (const c of levels) {
  await load([batching], c, { seconds: Math.min(3, duration) });
  const r = await load([batching], c, { seconds: duration });

  console.log(row('batching', c, r));
}
}

// 3. RSS over a long run, same server.
const soakN = Number(args.soak);
if (soakN > 0 && sections.has(3)) {
  const r = await load([batching], 32, { amount: soakN });
  const s = r.rssSamples;
  const at = (f: number) => s[Math.min(s.length - 1, Math.floor(f * (s.length - 1)))]!;
  console.log(`\n## 3. RSS over ${soakN} requests at 32 connections (same server, already warm)\n`);
  console.log('| after requests | RSS MiB |\n|---:|---:|');
  for (const f of [0, 0.1, 0.25, 0.5, 0.75, 1]) console.log(`| ${at(f).atRequest} | ${fmt(at(f).rss / MIB)} |`);
  console.log(`\n${ok(r).length} ok in ${fmt(r.seconds)} s (${fmt(ok(r).length / r.seconds)} req/s), other answers: ${others(r)}; peak RSS ${fmt(r.rssPeak / MIB)} MiB, mean batch ${fmt(r.meanBatch ?? NaN, 2)}`);
}
await batching.stop();
}

// 2. 4x overload: 128 connections against a queue of 32.
if (sections.has(2)) {
const overloadServer = await startServer(['--max-batch', '8', '--max-delay-ms', '5', '--max-queue', '32', '--timeout-ms', '5000']);
await load([overloadServer], 32, { seconds: Math.min(3, duration) });
const before503 = await scrape(overloadServer.url);
const over = await load([overloadServer], 128, { seconds: duration });
const after503 = await scrape(overloadServer.url);
await overloadServer.stop();
const bucket = (m: Map<string, number>, le: string) => m.get(`backbones_http_request_duration_seconds_bucket{le="${le}",route="/v1/classify",status="503"}`) ?? 0;
const served503 = bucket(after503, '+Inf') - bucket(before503, '+Inf');
const under50 = bucket(after503, '0.05') - bucket(before503, '0.05');
const under10 = bucket(after503, '0.01') - bucket(before503, '0.01');
const shed = over.byStatus.get(503) ?? [];
// The server's own view (arrival to answer, without the client's and the network's queues).

console.log('\n## 2. 4x overload: 128 connections, --max-queue 32, --timeout-ms 5000\n');
console.log(header);
console.log(row('batching, queue 32', 128, over));
console.log(
  `\n503 answers: ${shed.length} (${fmt((100 * shed.length) / (shed.length + ok(over).length))} %), latency p50 ${fmt(percentile(shed, 50))} ms, p99 ${fmt(percentile(shed, 99))} ms, max ${fmt(shed[shed.length - 1] ?? NaN)} ms; ` +
    `200 answers: max ${fmt(ok(over)[ok(over).length - 1] ?? NaN)} ms (deadline 5000 ms), 504 answers: ${count(over, 504)}`,
);
console.log(
  `server side (its latency histogram, arrival to answer): ${served503} 503s, ${fmt((100 * under10) / served503)} % within 10 ms, ${fmt((100 * under50) / served503)} % within 50 ms`,
);
}

// 4. The write-up's shape: N processes, each its own model, no batching.
const workers = Number(args['shape-workers']);
const shape = sections.has(4) || sections.has(5) ? await Promise.all(Array.from({ length: workers }, () => startServer(['--max-batch', '1', '--max-delay-ms', '0', '--max-queue', '256']))) : [];
if (sections.has(4)) {
console.log(`\n## 4. ${workers} processes, each its own model, --max-batch 1 (gunicorn -w ${workers} shape), connections split evenly\n`);
console.log(header);
for (const c of levels.filter((c) => c >= workers)) {
  await load(shape, c, { seconds: Math.min(3, duration) });
  const r = await load(shape, c, { seconds: duration });
  console.log(row(`${workers} processes`, c, r));
}
}

// 5. Interleaved rounds at 32 connections: batching server, N-process shape, bench --images.
const dir = mkdtempSync(path.join(os.tmpdir(), 'serve-load-'));
for (const f of files) symlinkSync(path.join(imageDir, f), path.join(dir, f));
/** bench --images: the measured end-to-end rate of its overlapped pipeline (decode pool + engine), and model-only. */
function benchImages(): { ips: number; e2eIps: number; e2e: { decodeMsPerImage: number; preprocessMsPerImage: number; inferenceMsPerImage: number } } {
  const bench = spawnSync(process.execPath, [bin, '--backend', 'onnx', 'bench', args.model!, '--weights', args.weights!, '--images', dir, '--decode', args.decode!, '--batch-sizes', '8', '--format', 'json', '--quiet'], { encoding: 'utf8' });
  if (bench.status !== 0) throw new Error(`bench failed: ${bench.stderr}`);
  const run = JSON.parse(bench.stdout).models[0].runs[0];
  const e = run.endToEnd;
  return { ips: run.imagesPerSecond, e2eIps: e.imagesPerSecond, e2e: e };
}
const rounds = sections.has(5) ? Number(process.env.ROUNDS ?? 3) : 0;
if (rounds > 0) {
const batching2 = await startServer(['--max-batch', '8', '--max-delay-ms', '5', '--max-queue', '256']);
// The same server with a decode thread per core (the default keeps one core for the engine).
const cores = os.availableParallelism();
const batchingAll = await startServer(['--max-batch', '8', '--max-delay-ms', '5', '--max-queue', '256', '--decode-threads', String(cores)]);
console.log(`\n## 5. interleaved, ${rounds} rounds at 32 connections: batching server, ${workers}-process shape, \`bench --images\` (batch 8, same model and files)\n`);
console.log(`| round | batching req/s | batching p50 / p99 ms | batching mean batch | batching, --decode-threads ${cores}: req/s (p50 / p99 ms) | ${workers} processes req/s | bench --images end-to-end img/s | (model only) | batching / bench e2e | batching / ${workers} processes |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (let i = 1; i <= rounds; i++) {
  await load([batching2], 32, { seconds: Math.min(3, duration) });
  const b = await load([batching2], 32, { seconds: duration });
  await load([batchingAll], 32, { seconds: Math.min(3, duration) });
  const a = await load([batchingAll], 32, { seconds: duration });
  await load(shape, 32, { seconds: Math.min(3, duration) });
  const g = await load(shape, 32, { seconds: duration });
  const e = benchImages();
  const bips = ok(b).length / b.seconds;
  const gips = ok(g).length / g.seconds;
  console.log(`| ${i} | ${fmt(bips)} | ${fmt(percentile(ok(b), 50))} / ${fmt(percentile(ok(b), 99))} | ${fmt(b.meanBatch ?? NaN, 2)} | ${fmt(ok(a).length / a.seconds)} (${fmt(percentile(ok(a), 50))} / ${fmt(percentile(ok(a), 99))}) | ${fmt(gips)} | ${fmt(e.e2eIps)} | ${fmt(e.ips)} | ${fmt(bips / e.e2eIps, 2)} | ${fmt(bips / gips, 2)} |`);
  console.log(`|  | bench --images per image: decode ${fmt(e.e2e.decodeMsPerImage, 2)} ms, preprocess ${fmt(e.e2e.preprocessMsPerImage, 2)} ms, inference ${fmt(e.e2e.inferenceMsPerImage, 2)} ms; load average ${os.loadavg()[0]!.toFixed(2)} ||||||||||`);
}
await batchingAll.stop();
const idle = [batching2, ...shape].map((s) => procSample(s.child.pid!).rss / MIB);
console.log(`\nRSS at rest after the rounds: batching server ${fmt(idle[0]!)} MiB; ${workers} processes ${idle.slice(1).map((x) => fmt(x)).join(' + ')} = ${fmt(idle.slice(1).reduce((a, b) => a + b, 0))} MiB`);
await batching2.stop();
}
await Promise.all(shape.map((s) => s.stop()));
console.log(`\nload average after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
