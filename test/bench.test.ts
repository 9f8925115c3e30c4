// `backbones bench` through the built CLI: the JSON report, GPU figures from a fake
// nvidia-smi, a failing model beside a good one, and peak RSS against the OS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCsv } from './helpers/npy.js';
import { csvExporter } from '../src/measure/export/csv.js';
import { markdownExporter } from '../src/measure/export/markdown.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './helpers/cli.js';
import { PATH_WITHOUT_GPU, pathWithFakeNvidiaSmi } from './helpers/gpu.js';
import { skipWithoutData, DATA_DIR } from './helpers/data.js';
import { BENCH_SCHEMA_VERSION, type BenchReport } from '../src/measure/result.js';
import { documentedPaths } from '../bench/schema.js';
import { fieldPaths } from './helpers/report-paths.js';

/** Every field of a real report is documented in bench/SCHEMA.md. */
function assertDocumented(report: BenchReport): void {
  const documented = documentedPaths();
  for (const f of fieldPaths(report)) assert.ok(documented.has(f), `${f} is in the report but not in bench/SCHEMA.md`);
}

const MIB = 1024 * 1024;

function positive(x: unknown, what: string): void {
  assert.ok(typeof x === 'number' && Number.isFinite(x) && x > 0, `${what} = ${x}`);
}

test('bench mobilenet --weights random --iterations 3 --format json: every figure present, load and first inference apart', async () => {
  const r = await runCli(['--backend', 'wasm', 'bench', 'mobilenet', '--weights', 'random', '--iterations', '3', '--warmup', '1', '--batch-sizes', '1,2', '--format', 'json'], {
    env: { PATH: PATH_WITHOUT_GPU },
  });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as BenchReport;
  assert.equal(report.schemaVersion, BENCH_SCHEMA_VERSION);
  assertDocumented(report);
  // The label, then where it ran; the thread count is the backend's own (1 for wasm in Node today).
  const label = report.runtime.backend.match(/^wasm \((?:no )?SIMD, (\d+) threads?\) on CPU .+$/);
  assert.ok(label, report.runtime.backend);
  assert.equal(report.runtime.threads, Number(label[1]));
  assert.ok(report.runtime.threads! >= 1);
  assert.ok(report.machine.cpuModel.length > 0);
  positive(report.machine.cores.logical, 'cores');
  assert.deepEqual(report.machine.gpus, []);
  assert.equal(report.machine.gpusUnavailableReason, 'nvidia-smi not found');
  const [m] = report.models;
  assert.equal(m!.status, 'ok');
  assert.equal(m!.weights, 'random');
  assert.equal(m!.backend, 'wasm');
  assert.deepEqual([m!.device, m!.provider], ['cpu', 'wasm']);
  assert.ok(m!.adapter!.length > 0);
  assert.ok(m!.warnings.some((w) => w.kind === 'random-weights'));
  assert.equal(m!.parameters, 4_253_864);
  assert.equal(m!.macsPerImage, 568_740_352);
  positive(m!.loadMs, 'loadMs');
  positive(m!.rssAfterLoadByte, 'rssAfterLoadByte');
  assert.deepEqual(m!.runs.map((x) => x.batchSize), [1, 2]);
  for (const run of m!.runs) {
    assert.equal(run.samplesMs.length, 3, 'exactly --iterations timed runs: first inference and warm-up are not samples');
    assert.equal(run.warmupRuns, 1);
    positive(run.firstInferenceMs, 'firstInferenceMs');
    for (const k of ['min', 'mean', 'p50', 'p90', 'p95', 'p99', 'max'] as const) positive(run.latencyMs[k], `latency ${k}`);
    assert.ok(run.latencyMs.min <= run.latencyMs.p50 && run.latencyMs.p50 <= run.latencyMs.max);
    assert.equal(run.latencyMs.count, 3);
    assert.ok(Math.abs(run.imagesPerSecond - (run.batchSize * 3) / (run.samplesMs.reduce((a, b) => a + b) / 1000)) < 1e-9);
    assert.ok(Math.abs(run.gflopsPerSecond! - (2 * 568_740_352 * run.imagesPerSecond) / 1e9) < 1e-9);
    positive(run.cpu.processPercentOfOneCore, 'cpu %');
    positive(run.memory.rssPeakSampledByte, 'rss peak');
    positive(run.memory.maxRssByte, 'maxRss');
    positive(run.memory.tfBytes, 'tf bytes');
    assert.equal(run.gpu, null, 'no nvidia-smi: n/a, not zero');
  }
  // The child's peak RSS as measured by itself agrees with the OS's high-water mark.
  const last = m!.runs[m!.runs.length - 1]!;
  positive(m!.osPeakRssByte, 'osPeakRssByte');
  assert.ok(Math.abs(m!.osPeakRssByte! - last.memory.maxRssByte) / last.memory.maxRssByte < 0.05, `${m!.osPeakRssByte} vs ${last.memory.maxRssByte}`);
  assert.ok(last.memory.rssPeakSampledByte! <= last.memory.maxRssByte * 1.01);
  assert.match(r.stderr, /\[1\/1\] mobilenet: batch 2: timed runs/);
});

test('GPU memory is exactly what nvidia-smi printed for the child process', async () => {
  // The bench parent runs nvidia-smi; the benchmarked child is the parent's node child.
  const PATH = pathWithFakeNvidiaSmi(`case "$*" in
  *--query-gpu*) echo "0, Fake GPU 80GB, 550.54.15, 81559, 3000, 42" ;;
  *--query-compute-apps*)
    for p in $(ps -o pid= --ppid $PPID); do
      if [ "$(ps -o comm= -p $p)" = "node" ]; then echo "$p, 1234"; fi
    done
    echo "999999, 777" ;;
esac
`);
  const r = await runCli(['bench', 'mobilenet_0.25', '--weights', 'random', '--iterations', '12', '--warmup', '0', '--batch-sizes', '1', '--gpu-poll-ms', '10', '--format', 'json'], {
    env: { PATH },
  });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as BenchReport;
  assert.deepEqual(report.machine.gpus.map((g) => g.name), ['Fake GPU 80GB']);
  const gpu = report.models[0]!.runs[0]!.gpu!;
  assert.ok(gpu.samples >= 1, 'polled at least once');
  assert.equal(gpu.processMemoryPeakByte, 1234 * MIB);
  assert.equal(gpu.processMemoryMeanByte, 1234 * MIB);
  assert.equal(gpu.deviceMemoryUsedPeakByte, 3000 * MIB);
  assert.equal(gpu.deviceMemoryTotalByte, 81559 * MIB);
  assert.equal(gpu.utilizationPeakPercent, 42);
  const md = await runCli(['bench', 'mobilenet_0.25', '--weights', 'random', '--iterations', '3', '--batch-sizes', '1', '--format', 'markdown'], {
    env: { PATH },
  });
  assert.match(md.stdout, /\| *1234(\.0)? *\|/);
});

test('a model that fails is reported as failed while the others finish', async () => {
  const r = await runCli(['bench', '/no/such/model.json', 'mobilenet_0.25', '--weights', 'random', '--iterations', '2', '--batch-sizes', '1', '--format', 'json'], {
    env: { PATH: PATH_WITHOUT_GPU },
  });
  assert.equal(r.code, 1);
  const report = JSON.parse(r.stdout) as BenchReport;
  assert.deepEqual(report.models.map((m) => [m.model, m.status]), [['/no/such/model.json', 'failed'], ['mobilenet_0.25', 'ok']]);
  assert.match(report.models[0]!.error!, /Model not found/);
  assert.equal(report.models[1]!.runs[0]!.samplesMs.length, 2);
  assert.match(r.stderr, /\/no\/such\/model\.json failed: Model not found/);
});

test('a child killed mid-run (as by the OOM killer) is that model\'s failure; the next model still runs', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crash-'));
  const hook = path.join(dir, 'kill-first-child.cjs');
  const marker = path.join(dir, 'killed-once');
  // Loaded into every node process via NODE_OPTIONS; only bench children have an IPC channel.
  writeFileSync(
    hook,
    `const fs = require('fs');
if (process.send && !fs.existsSync(${JSON.stringify(marker)})) {
  fs.writeFileSync(${JSON.stringify(marker)}, '');
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 300);
}
`,
  );
  const r = await runCli(['bench', 'mobilenet', 'mobilenet_0.25', '--weights', 'random', '--iterations', '2', '--batch-sizes', '1', '--format', 'json'], {
    env: { PATH: PATH_WITHOUT_GPU, NODE_OPTIONS: `--require ${hook}` },
  });
  assert.equal(r.code, 1);
  const report = JSON.parse(r.stdout) as BenchReport;
  assert.equal(report.models[0]!.status, 'failed');
  assert.match(report.models[0]!.error!, /killed \(SIGKILL: out of memory\?\)/);
  assert.equal(report.models[1]!.status, 'ok');
});

test('an unloadable model file is that model\'s failure', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bad-model-'));
  writeFileSync(path.join(dir, 'model.json'), '{"modelTopology": {"node": []}, "weightsManifest": [{"paths": ["missing.bin"], "weights": []}]}');
  const r = await runCli(['bench', path.join(dir, 'model.json'), 'mobilenet_0.25', '--weights', 'random', '--iterations', '2', '--batch-sizes', '1', '--format', 'json'], {
    env: { PATH: PATH_WITHOUT_GPU },
  });
  const report = JSON.parse(r.stdout) as BenchReport;
  assert.equal(report.models[0]!.status, 'failed');
  assert.equal(report.models[1]!.status, 'ok');
});

test('markdown and csv exports, -o rewrites the file; table shows n/a for GPU', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-out-'));
  const out = path.join(dir, 'bench.csv');
  const r = await runCli(['bench', 'mobilenet_0.25', '--weights', 'random', '--iterations', '2', '--batch-sizes', '1,2', '-o', out], {
    env: { PATH: PATH_WITHOUT_GPU },
  });
  assert.equal(r.code, 0, r.stderr);
  const csv = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(csv.length, 3, 'header + one row per model x batch');
  assert.match(csv[1]!, /^mobilenet_0\.25,/);
  assert.equal(r.stdout, '', 'the report went to the file, not to a piped stdout');
  assert.match(r.stderr, /report written to/);
  const table = await runCli(['bench', 'mobilenet_0.25', '--weights', 'random', '--iterations', '2', '--batch-sizes', '1', '--format', 'table'], {
    env: { PATH: PATH_WITHOUT_GPU },
  });
  // The table names the same backend, device and provider as the CSV row (whatever auto picked here).
  const [, backend, device, provider] = csv[1]!.split(',');
  assert.match(table.stdout, new RegExp(`mobilenet_0\\.25\\s+${backend}\\s+${device}\\s+${provider}\\s+1\\s+random`));
  // Piped, the table fits 120 columns: the GPU column (n/a without a GPU) is among those it names as not shown.
  assert.deepEqual(table.stdout.split('\n').filter((l) => [...l].length > 120), []);
  assert.match(table.stdout, /^Not shown for width \(120 columns\): GPU mem MiB, /m);
});

test('--images runs the real pipeline: end-to-end img/s next to model-only, stage times, pool CPU, the limiting stage', { skip: skipWithoutData() }, async () => {
  const r = await runCli(['bench', 'mobilenet_0.25', '--weights', 'random', '--iterations', '2', '--batch-sizes', '4', '--images', path.join(DATA_DIR, 'images'), '--format', 'json'], {
    env: { PATH: PATH_WITHOUT_GPU },
  });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as BenchReport;
  assertDocumented(report);
  const run = report.models[0]!.runs[0]!;
  const e2e = run.endToEnd!;
  assert.equal(e2e.images, 26, 'every readable image; the truncated one is left out');
  assert.equal(e2e.failed, 1);
  assert.equal(e2e.passes, 1, 'one pass with --iterations');
  assert.equal(e2e.decode, 'exact');
  assert.ok(e2e.decodeThreads >= 1);
  positive(e2e.decodeMsPerImage, 'decode');
  positive(e2e.preprocessMsPerImage, 'preprocess');
  positive(e2e.inferenceMsPerImage, 'inference');
  positive(e2e.imagesPerSecond, 'end-to-end img/s');
  assert.equal(e2e.modelImagesPerSecond, run.imagesPerSecond);
  assert.ok(Math.abs(e2e.percentOfModel - (100 * e2e.imagesPerSecond) / run.imagesPerSecond) < 1e-9);
  assert.ok(['decode', 'preprocess', 'inference'].includes(e2e.limitingStage));
  assert.ok(e2e.engineWaitPercent >= 0 && e2e.engineWaitPercent <= 100);
  assert.ok(e2e.poolCpuPercentOfOneCore === null || e2e.poolCpuPercentOfOneCore > 0);
  assert.equal(e2e.prefetchBudgetByte, 512 * 1024 * 1024);
  assert.ok(e2e.prefetchPeakByte > 0 && e2e.prefetchPeakByte <= e2e.prefetchBudgetByte);
  // The overlap limit, from measured CPU times: cores / (decode + preprocess + model CPU per image).
  positive(e2e.modelCpuMsPerImage, 'model CPU');
  assert.equal(e2e.cores, os.availableParallelism());
  if (process.platform === 'linux') {
    positive(e2e.decodeCpuMsPerImage!, 'decode CPU');
    positive(e2e.preprocessCpuMsPerImage!, 'preprocess CPU');
    const limit = (1000 * e2e.cores) / (e2e.decodeCpuMsPerImage! + e2e.preprocessCpuMsPerImage! + e2e.modelCpuMsPerImage);
    assert.ok(Math.abs(e2e.overlapLimitImagesPerSecond! - limit) < 1e-6);
    assert.ok(Math.abs(e2e.percentOfOverlapLimit! - (100 * e2e.imagesPerSecond) / limit) < 1e-6);
  }
  // The markdown and CSV reports carry the end-to-end figures too (read back by a CSV parser).
  const rows = parseCsv(csvExporter.serialize(report));
  const header = rows[0]!;
  const cell = (name: string) => rows[1]![header.indexOf(name)];
  assert.equal(Number(cell('end_to_end_images_per_second')), e2e.imagesPerSecond);
  assert.equal(Number(cell('end_to_end_failed')), 1);
  assert.equal(cell('end_to_end_decode'), 'exact');
  assert.equal(Number(cell('end_to_end_model_cpu_ms')), e2e.modelCpuMsPerImage);
  if (e2e.overlapLimitImagesPerSecond !== null) assert.equal(Number(cell('overlap_limit_images_per_second')), e2e.overlapLimitImagesPerSecond);
  const md = markdownExporter.serialize(report);
  for (const h of ['e2e img/s', 'e2e % of model', 'failed files', 'overlap limit img/s', 'e2e % of limit']) assert.ok(md.includes(`| ${h} |`) || md.includes(` ${h} |`), `markdown column ${h}`);
  const fast = await runCli(['bench', 'mobilenet_0.25', '--weights', 'random', '--iterations', '2', '--batch-sizes', '4', '--images', path.join(DATA_DIR, 'images'), '--decode', 'fast', '--decode-threads', '2', '--prefetch-mb', '64', '--format', 'table'], {
    env: { PATH: PATH_WITHOUT_GPU },
  });
  assert.equal(fast.code, 0, fast.stderr);
  assert.match(fast.stdout, /End to end/);
  // Each end-to-end line wraps within 120 columns, its continuation indented by 4.
  assert.deepEqual(fast.stdout.split('\n').filter((l) => [...l].length > 120), []);
  assert.match(
    fast.stdout.replace(/\n {4}/g, ' '),
    /batch 4, --decode fast: [\d.]+ img\/s end to end vs [\d.]+ model-only \(\d+ %\), (\d+ % of the overlap limit [\d.]+ img\/s \(\d+ cores \/ \(decode \+ preprocess \+ model CPU per image\)\)|overlap limit n\/a \(decode CPU not measurable\)); 1 file failed to decode \(not counted\); CPU per image: decode [\d.]+ ms( wall)?, preprocess [\d.]+ ms( wall)?, model [\d.]+ ms; inference [\d.]+ ms wall; 2 decode threads, pool CPU (\d+ %|n\/a), engine waited \d+ %; limited by (decode|preprocess|inference) \(26 images × 1 pass\)/,
  );
});

test('--duration bounds the timed runs; --plot draws an SVG', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-plot-'));
  const svg = path.join(dir, 'bench.svg');
  const r = await runCli(['bench', 'mobilenet_0.25', '--weights', 'random', '--duration', '0.5', '--batch-sizes', '1', '--plot', svg, '--format', 'json'], {
    env: { PATH: PATH_WITHOUT_GPU },
  });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as BenchReport;
  assert.equal(report.settings.durationS, 0.5);
  const run = report.models[0]!.runs[0]!;
  const timed = run.samplesMs.reduce((a, b) => a + b, 0);
  assert.ok(run.samplesMs.length >= 1);
  // Runs stop once the budget is spent: the total is at most the budget plus one run.
  assert.ok(timed - run.latencyMs.max < 500, `${timed} ms of timed runs`);
  const text = readFileSync(svg, 'utf8');
  assert.ok(text.startsWith('<svg') && text.includes('mobilenet_0.25'));
  assert.match(r.stderr, /plot written to/);
});

test('bad bench options are clear usage errors', async () => {
  const both = await runCli(['bench', 'mobilenet', '--iterations', '3', '--duration', '2']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /either --iterations or --duration/);
  const plot = await runCli(['bench', 'mobilenet', '--plot', 'chart.pdf']);
  assert.equal(plot.code, 2);
  assert.match(plot.stderr, /--plot needs a file ending in \.svg or \.png/);
  const unknown = await runCli(['bench', 'vgg17']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown model "vgg17"/);
});

test('without --weights: imagenet when cached, else random, and the report says which', { skip: skipWithoutData() }, async () => {
  const { cacheWithMobilenet025, emptyCache } = await import('./helpers/cache.js');
  const args = ['bench', 'mobilenet_0.25', '--iterations', '2', '--batch-sizes', '1', '--format', 'json'];
  const [cached, empty] = await Promise.all([
    runCli(args, { env: { PATH: PATH_WITHOUT_GPU, BACKBONES_CACHE: cacheWithMobilenet025() } }),
    runCli(args, { env: { PATH: PATH_WITHOUT_GPU, BACKBONES_CACHE: emptyCache() } }),
  ]);
  assert.equal(cached.code, 0, cached.stderr);
  assert.equal((JSON.parse(cached.stdout) as BenchReport).models[0]!.weights, 'imagenet');
  assert.equal(empty.code, 0, empty.stderr);
  const report = JSON.parse(empty.stdout) as BenchReport;
  assert.equal(report.models[0]!.weights, 'random');
  assert.ok(report.models[0]!.warnings.some((w) => w.kind === 'random-weights'));
});
