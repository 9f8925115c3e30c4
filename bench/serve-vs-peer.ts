// `backbones serve` against the deployment its users would otherwise build: Flask +
// Gunicorn (2 sync workers x 1 thread) around torchvision's MobileNetV2 on Debian's
// python3-torch with OpenBLAS (bench/peers/flask-gunicorn/app.py), same 12 real JPEGs,
// same work per request (decode, squash to 224 bilinear, [-1, 1], MobileNetV2, top-5).
// One closed-loop load generator on node:http drives both (autocannon mis-measures
// Gunicorn's `Connection: close` answers): C clients, each sends the next photo of one
// shared turn and waits for the whole answer before sending again. Interleaved rounds:
// for each round and concurrency, both servers in turn (the order alternates by round),
// each after an untimed warm-up at the same concurrency. Memory: RSS and PSS (the shared
// pages divided among the processes that map them, /proc/PID/smaps_rollup) of each
// server's whole process tree, sampled every 250 ms; peak and at rest.
// Floors, after the rounds: each side's decode + preprocessing and model CPU time per
// request with no server around them (ours: loadImageForModel and batches of --max-batch
// on the same engine, in this process; the peer's: bench/peers/flask-gunicorn/floor.py).
// At saturation req/s = cores / CPU per request, so the peer's measured CPU per request
// over our floor is the most req/s ratio any serving code around our decoder and model
// could reach; the rest of each side's measured CPU per request is its serving overhead.
//
//   npx tsx bench/serve-vs-peer.ts [--rounds 3] [--duration 10] [--concurrency 1,8,32]
//       [--serve-args "--max-batch 8"] [--torch-threads 1] [--workers 2] [--baseline DIR]
// --baseline DIR: the peer is `backbones serve` of another built checkout (an A/B of two
// builds, e.g. a git worktree of the commit before), with the same arguments; no floors.
// Needs: gunicorn, python3-flask, python3-torch, python3-torchvision, python3-pil (Debian).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { tf } from '../src/tf.js';
import { startEngine } from '../src/engines/select.js';
import { loadBackbone } from '../src/zoo/load.js';
import { loadImageForModel, type DecodeMode } from '../src/images/index.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,8,32' },
    model: { type: 'string', default: 'mobilenet_v2' },
    'serve-args': { type: 'string', default: '' },
    'torch-threads': { type: 'string', default: '1' },
    baseline: { type: 'string' },
    workers: { type: 'string', default: '2' },
  },
});
const root = path.resolve(import.meta.dirname, '..');
const dataDir = path.resolve(root, process.env.BACKBONES_TEST_DATA ?? '../shared/data');
const imageDir = path.join(dataDir, 'images');
// As bench/serve-load.ts: every JPEG but the truncated one and the 5120x2880 one.
const files = readdirSync(imageDir).filter((f) => /\.jpe?g$/i.test(f) && !f.startsWith('truncated') && !f.startsWith('forest_path')).sort();
const bodies = files.map((f) => readFileSync(path.join(imageDir, f)));
const MIB = 1024 * 1024;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Server {
  name: string;
  port: number;
  path: string;
  child: ChildProcess;
}

async function waitReady(s: Server, readyPath: string, log: () => string): Promise<void> {
  for (let i = 0; ; i++) {
    if (s.child.exitCode !== null) throw new Error(`${s.name} exited: ${log()}`);
    if (i > 1200) throw new Error(`${s.name} not ready after 120 s: ${log()}`);
    const status = await new Promise<number>((resolve) => {
      http.get({ host: '127.0.0.1', port: s.port, path: readyPath }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', () => resolve(0));
    });
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startBackbones(dir = root, name = 'backbones'): Promise<Server> {
  const port = await freePort();
  const extra = args['serve-args']!.split(' ').filter(Boolean);
  const child = spawn(process.execPath, [path.join(dir, 'bin', 'backbones.js'), '--backend', 'onnx', 'serve', '-m', args.model!, '--weights', 'random', '--port', String(port), '--log-level', 'warn', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const s = { name, port, path: '/v1/classify?k=5', child };
  await waitReady(s, '/v2/health/ready', () => err);
  return s;
}

async function startPeer(): Promise<Server> {
  const port = await freePort();
  const child = spawn('gunicorn', ['-w', args.workers!, '--threads', '1', '-b', `127.0.0.1:${port}`, '--chdir', path.join(root, 'bench', 'peers', 'flask-gunicorn'), '--log-level', 'warning', 'app:app'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Debian's python and packages, not a python on PATH from elsewhere.
    env: { ...process.env, PATH: `/usr/bin:${process.env.PATH}`, TORCH_THREADS: args['torch-threads']!, PYTHONPATH: '' },
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const s = { name: 'flask+gunicorn', port, path: '/v1/classify?k=5', child };
  await waitReady(s, '/health', () => err);
  return s;
}

/** The pids of a process and all its descendants. */
function tree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return out;
}

/** CPU seconds (user + system) of a process tree so far. */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of tree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      /* gone */
    }
  }
  return ticks / 100; // USER_HZ
}

/** RSS and PSS of a process tree, bytes. */
function memory(pid: number): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const p of tree(pid)) {
    try {
      const text = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0) * 1024;
      pss += Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0) * 1024;
    } catch {
      /* gone */
    }
  }
  return { rss, pss };
}

interface LoadResult {
  /** Server CPU seconds over the run (its whole process tree): CPU per request does not depend on what else the machine runs. */
  cpuS: number;
  ok: number;
  errors: number;
  seconds: number;
  latenciesMs: number[];
  peakRss: number;
  peakPss: number;
}

let turn = 0;
/** C clients in a closed loop for `seconds`: each waits for its answer before sending the next photo. */
async function load(s: Server, clients: number, seconds: number): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const latenciesMs: number[] = [];
  let ok = 0;
  let errors = 0;
  let peakRss = 0;
  let peakPss = 0;
  const sample = () => {
    const m = memory(s.child.pid!);
    peakRss = Math.max(peakRss, m.rss);
    peakPss = Math.max(peakPss, m.pss);
  };
  const timer = setInterval(sample, 250);
  const cpu0 = cpuSeconds(s.child.pid!);
  const started = performance.now();
  const end = started + seconds * 1000;
  const one = (body: Buffer) =>
    new Promise<number>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port: s.port, path: s.path, method: 'POST', agent, headers: { 'Content-Type': 'image/jpeg', 'Content-Length': body.length } }, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const status = await one(bodies[turn++ % bodies.length]!);
        if (status === 200) {
          ok += 1;
          latenciesMs.push(performance.now() - t0);
        } else errors += 1;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpuS = cpuSeconds(s.child.pid!) - cpu0;
  clearInterval(timer);
  sample();
  agent.destroy();
  return { cpuS, ok, errors, seconds: elapsed, latenciesMs, peakRss, peakPss };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = (p / 100) * (s.length - 1);
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (i - lo);
}

const concurrencies = args.concurrency!.split(',').map(Number);
const rounds = Number(args.rounds);
const duration = Number(args.duration);
const warmup = Number(args.warmup);
console.error(`files: ${files.length} JPEGs; ${rounds} rounds x concurrency ${concurrencies.join('/')} x ${duration} s; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const servers = [await startBackbones(), args.baseline ? await startBackbones(path.resolve(args.baseline), 'baseline') : await startPeer()];
const rest = Object.fromEntries(servers.map((s) => [s.name, memory(s.child.pid!)]));
type Row = { round: number; server: string; c: number; rps: number; cpuMsPerRequest: number; p50: number; p99: number; errors: number; peakRss: number; peakPss: number };
const rows: Row[] = [];
try {
  for (let r = 1; r <= rounds; r++) {
    for (const c of concurrencies) {
      const order = r % 2 === 1 ? servers : [...servers].reverse();
      for (const s of order) {
        await load(s, c, warmup);
        const res = await load(s, c, duration);
        const row = { round: r, server: s.name, c, rps: res.ok / res.seconds, cpuMsPerRequest: (1000 * res.cpuS) / Math.max(1, res.ok), p50: percentile(res.latenciesMs, 50), p99: percentile(res.latenciesMs, 99), errors: res.errors, peakRss: res.peakRss, peakPss: res.peakPss };
        rows.push(row);
        console.error(`round ${r} c=${c} ${s.name}: ${row.rps.toFixed(1)} req/s, ${row.cpuMsPerRequest.toFixed(0)} ms CPU/request, p50 ${row.p50.toFixed(0)} ms, p99 ${row.p99.toFixed(0)} ms, errors ${row.errors}, peak RSS ${(row.peakRss / MIB).toFixed(0)} MiB, PSS ${(row.peakPss / MIB).toFixed(0)} MiB (load ${os.loadavg()[0]!.toFixed(1)})`);
      }
    }
  }
  for (const s of servers) Object.assign(rest, { [`${s.name} after`]: memory(s.child.pid!) });
} finally {
  for (const s of servers) s.child.kill('SIGTERM');
}

const [ours, peer] = servers.map((s) => s.name) as [string, string];
console.log('| concurrency | round | backbones req/s | peer req/s | req/s ratio | CPU ms / request, backbones / peer | peer / backbones CPU | backbones p50 / p99 ms | peer p50 / p99 ms | p99 ratio | backbones peak RSS / PSS MiB | peer peak RSS / PSS MiB | PSS ratio |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const c of concurrencies) {
  for (let r = 1; r <= rounds; r++) {
    const a = rows.find((x) => x.c === c && x.round === r && x.server === ours)!;
    const b = rows.find((x) => x.c === c && x.round === r && x.server === peer)!;
    console.log(
      `| ${c} | ${r} | ${a.rps.toFixed(1)} | ${b.rps.toFixed(1)} | **${(a.rps / b.rps).toFixed(2)}** | ${a.cpuMsPerRequest.toFixed(0)} / ${b.cpuMsPerRequest.toFixed(0)} | ${(b.cpuMsPerRequest / a.cpuMsPerRequest).toFixed(2)} | ${a.p50.toFixed(0)} / ${a.p99.toFixed(0)} | ${b.p50.toFixed(0)} / ${b.p99.toFixed(0)} | ${(a.p99 / b.p99).toFixed(2)} | ` +
        `${(a.peakRss / MIB).toFixed(0)} / ${(a.peakPss / MIB).toFixed(0)} | ${(b.peakRss / MIB).toFixed(0)} / ${(b.peakPss / MIB).toFixed(0)} | ${(a.peakPss / b.peakPss).toFixed(2)} |`,
    );
  }
}
console.log('');
const floors = args.baseline ? null : await measureFloors();
const meanCpu = (server: string) => {
  const rs = rows.filter((x) => x.server === server && x.c > 1);
  return rs.reduce((a, x) => a + x.cpuMsPerRequest, 0) / Math.max(1, rs.length);
};
if (floors) {
  const ourFloor = floors.ours.decodeMs + floors.ours.modelMs;
  const peerFloor = floors.peer.decodeMs + floors.peer.modelMs;
  console.log(`floor, CPU ms per request (decode + preprocess, model; no server; ${floors.reps} passes over the ${files.length} photos):`);
  console.log(`  backbones: ${floors.ours.decodeMs.toFixed(1)} + ${floors.ours.modelMs.toFixed(1)} (batches of ${floors.batch}, decode ${floors.decode}) = ${ourFloor.toFixed(1)}; serving measured ${meanCpu(ours).toFixed(1)} at concurrency > 1 (overhead ${(meanCpu(ours) - ourFloor).toFixed(1)})`);
  console.log(`  peer:      ${floors.peer.decodeMs.toFixed(1)} + ${floors.peer.modelMs.toFixed(1)} (batches of 1) = ${peerFloor.toFixed(1)}; serving measured ${meanCpu(peer).toFixed(1)} (overhead ${(meanCpu(peer) - peerFloor).toFixed(1)})`);
  console.log(`  peer's floor / ours: ${(peerFloor / ourFloor).toFixed(2)}x; most req/s ratio at saturation with no serving overhead of ours: peer's ${meanCpu(peer).toFixed(1)} / our floor ${ourFloor.toFixed(1)} = ${(meanCpu(peer) / ourFloor).toFixed(2)}x`);
}
for (const [k, m] of Object.entries(rest)) console.log(`at rest, ${k}: RSS ${(m.rss / MIB).toFixed(0)} MiB, PSS ${(m.pss / MIB).toFixed(0)} MiB`);
console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores`);

/** Each side's decode and model CPU time per request, with no server around them. */
async function measureFloors() {
  const reps = 5;
  const extra = args['serve-args']!.split(/[\s=]+/).filter(Boolean);
  const option = (name: string, dflt: string) => (extra.includes(name) ? extra[extra.indexOf(name) + 1]! : dflt);
  const decode = option('--decode', 'exact') as DecodeMode;
  const batch = Number(option('--max-batch', '8'));
  const engine = await startEngine({ backend: 'onnx' });
  const backbone = await loadBackbone(args.model!, { weights: 'random', allowDownload: false, engine });
  await backbone.prepare();
  backbone.releaseTfjsWeights();
  const info = backbone.info;
  const settings = { size: info.inputSize, preprocess: info.preprocess, resize: info.resize, interpolation: info.interpolation, decode };
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  for (const b of bodies) await loadImageForModel(b, settings); // warm-up
  let c0 = cpuMs();
  for (let r = 0; r < reps; r++) for (const b of bodies) await loadImageForModel(b, settings);
  const decodeMs = (cpuMs() - c0) / (reps * bodies.length);
  const input = tf.randomUniform([batch, info.inputSize[0], info.inputSize[1], 3], -1, 1, 'float32', 7) as tf.Tensor4D;
  const run = async () => {
    const out = await backbone.infer(input);
    await out.data();
    out.dispose();
  };
  for (let i = 0; i < 3; i++) await run();
  const batches = Math.ceil((reps * bodies.length) / batch);
  c0 = cpuMs();
  for (let i = 0; i < batches; i++) await run();
  const modelMs = (cpuMs() - c0) / (batches * batch);
  input.dispose();
  backbone.dispose();
  const out = execFileSync('/usr/bin/python3', [path.join(root, 'bench', 'peers', 'flask-gunicorn', 'floor.py'), '--reps', String(reps), ...files.map((f) => path.join(imageDir, f))], {
    cwd: path.join(root, 'bench', 'peers', 'flask-gunicorn'),
    env: { ...process.env, TORCH_THREADS: args['torch-threads']!, PYTHONPATH: '' },
    encoding: 'utf8',
  });
  const peerFloor = JSON.parse(out) as { decode_ms: number; model_ms: number };
  return { reps, decode, batch, ours: { decodeMs, modelMs }, peer: { decodeMs: peerFloor.decode_ms, modelMs: peerFloor.model_ms } };
}
