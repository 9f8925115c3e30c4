// Messages and exit codes a new user meets (issue 10, items 1, 9-12, 14-17): the
// built CLI on real photos and the small real models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, openSync, readdirSync, symlinkSync, writeFileSync, writeSync, closeSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BIN, runCli } from './helpers/cli.js';
import { DATA_DIR, IMAGES, MODELS, skipWithoutData } from './helpers/data.js';
import { cacheWithMobilenet025, parseJsonl } from './helpers/cache.js';
import { screenOf } from './helpers/terminal.js';
import { fakeReport } from './helpers/bench-fixtures.js';
import { environmentLines, warningLines } from '../src/measure/export/format.js';
import { plotSpec } from '../src/measure/plot.js';
import { etaSeconds, formatEta } from '../src/actions/progress.js';
import { load, BackbonesError } from '../src/index.js';
import { loadBackbone } from '../src/zoo/load.js';
import { startEngine } from '../src/engines/select.js';
import { computeBatch } from '../src/serve/compute.js';

const skip = skipWithoutData();
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'bb-msg-'));
let cache = '';
const env = () => ({ BACKBONES_CACHE: (cache ||= cacheWithMobilenet025()) });
const APPLE = IMAGES('apple_red__opencv.jpg');
const TRUNCATED = IMAGES('truncated__skimage.jpg');
const MODEL = ['-m', 'mobilenet_0.25'];

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The real 0.25 MobileNet with a stretch of one shard overwritten by NaNs. */
function damagedModel(): string {
  const dir = path.join(tmp(), 'damaged');
  cpSync(MODELS('mobilenet_v1_0.25_224'), dir, { recursive: true });
  const shard = readdirSync(dir).find((f) => f.includes('shard'))!;
  const fd = openSync(path.join(dir, shard), 'r+');
  writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, 1024); // 0xffffffff is a float32 NaN
  closeSync(fd);
  return path.join(dir, 'model.json');
}

test('damaged weights (NaN outputs) stop the run with an error that names the model', { skip }, async () => {
  const model = damagedModel();
  const r = await runCli(['classify', APPLE, IMAGES('cat_tabby_chelsea__skimage.png'), '-m', model, '--preprocess', 'tf']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /model\.json produced non-finite outputs \(NaN or Infinity\) .*weights are likely damaged/);
  assert.equal(r.stdout, '', 'no record with NaN probabilities');
  const e = await runCli(['extract', APPLE, '-m', model, '--preprocess', 'tf', '--layer', 'conv_preds']);
  assert.equal(e.code, 1, e.stderr);
  assert.match(e.stderr, /weights are likely damaged/);
});

test('damaged weights: the library and serve\'s batch computation throw the same error instead of answering NaN', { skip }, async () => {
  const model = damagedModel();
  const lib = await load(model, { backend: 'onnx', preprocess: 'tf' });
  try {
    await assert.rejects(lib.classify(APPLE), (e: unknown) => {
      assert.ok(e instanceof BackbonesError, 'the library exports the error class it throws');
      assert.equal(e.code, 'E_MODEL');
      assert.match(e.message, /produced non-finite outputs \(NaN or Infinity\) for the image: its weights are likely damaged/);
      return true;
    });
    await assert.rejects(lib.extract(APPLE, { layer: 'conv_preds' }), /weights are likely damaged/);
    const [h, w] = lib.info.inputSize;
    const backbone = await loadBackbone(model, { preprocess: 'tf', engine: await startEngine({ backend: 'onnx' }) });
    try {
      await assert.rejects(computeBatch(backbone, [{ kind: 'classify', k: 3 }], new Float32Array(h * w * 3)), /for a request image: its weights are likely damaged/);
    } finally {
      backbone.dispose();
    }
  } finally {
    lib.dispose();
  }
});

test('an empty folder, or one without matching files, warns and exits 4 (even with -q); nothing is written', { skip }, async () => {
  const empty = tmp();
  const out = path.join(tmp(), 'x.jsonl');
  const r = await runCli(['classify', empty, ...MODEL, '-o', out], { env: env() });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /Warning: No images to process in .* \(looked for \.jpg, .*\); nothing was written/);
  assert.equal(readdirSync(path.dirname(out)).length, 0);
  writeFileSync(path.join(empty, 'notes.txt'), 'text');
  const q = await runCli(['extract', empty, ...MODEL, '-q'], { env: env() });
  assert.equal(q.code, 4);
  assert.match(q.stderr, /No images to process/);
  const stdin = await runCli(['classify', '-', ...MODEL], { env: env(), input: '\n' });
  assert.equal(stdin.code, 4);
});

test('-q still prints each failed file', { skip }, async () => {
  const r = await runCli(['classify', TRUNCATED, APPLE, ...MODEL, '-q'], { env: env() });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^Error: Cannot decode \S*truncated__skimage\.jpg: /m);
  assert.doesNotMatch(r.stderr, /images done|model:/);
});

test('a symlink loop or broken link named on the command line is an error record, like inside a folder', { skip }, async () => {
  const dir = tmp();
  const loop = path.join(dir, 'loop.jpg');
  symlinkSync(loop, loop);
  const broken = path.join(dir, 'broken.jpg');
  symlinkSync(path.join(dir, 'missing.jpg'), broken);
  const r = await runCli(['classify', loop, APPLE, broken, ...MODEL, '-k', '1'], { env: env() });
  assert.equal(r.code, 3, r.stderr);
  const rows = parseJsonl(r.stdout);
  assert.deepEqual(rows.map((x) => x.path), [loop, APPLE, broken]);
  assert.equal(rows[0]!.error, 'symlink loop');
  assert.match(rows[2]!.error, /broken symlink/);
  assert.equal(rows[1]!.predictions[0].label, 'Granny_Smith');
  // A path with no entry at all is still bad usage, before any work.
  const missing = await runCli(['classify', path.join(dir, 'nothing-here.jpg'), ...MODEL], { env: env() });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /Input not found/);
});

test('bad values exit 2: an unknown model, refused before anything starts (bench too, among known models)', { skip }, async () => {
  const c = await runCli(['classify', APPLE, '-m', 'vgg17']);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /Unknown model "vgg17"/);
  assert.doesNotMatch(c.stderr, /backend:/, 'refused before a backend starts');
  const served = await runCli(['serve', '-m', 'vgg17', '--port', '0']);
  assert.equal(served.code, 2);
  assert.match(served.stderr, /^Error: Unknown model "vgg17"/m);
  assert.doesNotMatch(served.stderr, /listening/, 'refused before the server listens');
  const only = await runCli(['bench', 'vgg17']);
  assert.equal(only.code, 2);
  const b = await runCli(['bench', 'mobilenet_0.25', 'vgg17', '--weights', 'random', '--batch-sizes', '1', '--iterations', '2', '--warmup', '0', '--format', 'json'], { env: env() });
  assert.equal(b.code, 2, b.stderr);
  assert.equal(b.stdout, '');
  assert.match(b.stderr, /^Error: Unknown model "vgg17"/m);
  assert.doesNotMatch(b.stderr, /backend:|mobilenet_0\.25: loading/, 'no model ran');
});

test('a model with one output more than labels gets a --label-offset 1 hint', { skip }, async () => {
  const r = await runCli(['classify', IMAGES('cat_tabby_chelsea__skimage.png'), '-m', MODELS('mobilenet_v1_0.25_224_graph'), '--preprocess', 'unit', '-k', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /has 1001 outputs for 1000 labels: .*pass --label-offset 1/);
  const ok = await runCli(['classify', IMAGES('cat_tabby_chelsea__skimage.png'), '-m', MODELS('mobilenet_v1_0.25_224_graph'), '--preprocess', 'unit', '-k', '1', '--label-offset', '1']);
  assert.doesNotMatch(ok.stderr, /--label-offset/);
});

test('models list takes part of a name', async () => {
  const vgg = await runCli(['models', 'list', 'vgg', '--json']);
  assert.equal(vgg.code, 0, vgg.stderr);
  assert.deepEqual(JSON.parse(vgg.stdout).map((m: { name: string }) => m.name), ['vgg16', 'vgg19']);
  const mobile = await runCli(['models', 'list', 'mobile', '--json']);
  assert.deepEqual(JSON.parse(mobile.stdout).map((m: { name: string }) => m.name), ['mobilenet', 'mobilenet_0.25', 'mobilenet_v2']);
  const glob = await runCli(['models', 'list', 'mobilenet_v?', '--json']);
  assert.deepEqual(JSON.parse(glob.stdout).map((m: { name: string }) => m.name), ['mobilenet_v2']);
});

test('models info MODEL.json lists layers only with --layers', { skip }, async () => {
  const r = await runCli(['models', 'info', path.join(MODELS('mobilenet_v1_0.25_224'), 'model.json')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /parameters/);
  assert.doesNotMatch(r.stdout, /conv_pw_13_relu/);
  const l = await runCli(['models', 'info', path.join(MODELS('mobilenet_v1_0.25_224'), 'model.json'), '--layers']);
  assert.match(l.stdout, /conv_pw_13_relu/);
});

test('a failed download leaves no empty folders in the cache', async () => {
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'bb-cache-fail-'));
  const port = await closedPort();
  for (const name of ['mobilenet_0.25', 'mobilenet']) {
    const r = await runCli(['models', 'pull', name, '--cache-dir', cacheDir], { env: { BACKBONES_WEIGHTS_MIRROR: `http://127.0.0.1:${port}` } });
    assert.equal(r.code, 1, r.stderr);
  }
  assert.deepEqual(readdirSync(cacheDir), []);
});

test('bench text: threads said once, random weights once per model, outliers name the backend; ETA from the average', () => {
  const report = fakeReport();
  report.runtime = { node: 'v20', tfjs: '4.22.0', backend: 'onnx (onnxruntime-node 1.30.0, cpu, 2 threads)', threads: 2 };
  assert.doesNotMatch(environmentLines(report).join('\n'), /threads\), 2 threads/);
  const mobilenetOnWasm = { ...report.models[1]!, backend: 'wasm' };
  report.models.push(mobilenetOnWasm);
  const lines = warningLines(report);
  assert.equal(lines.filter((l) => l.warning.kind === 'random-weights').length, 1);
  const outlier = lines.find((l) => l.warning.kind === 'statistical-outliers')!;
  assert.equal(outlier.where, 'vgg16 on cpu, batch 8');
  // 10 of 40 done in 3 s: 9 s left (not the rate of the last burst of updates).
  assert.equal(etaSeconds(10, 40, 3), 9);
  assert.equal(formatEta(125), '2m05s');
});

test('plot: one labelled row per model × batch size in both panels, one colour meaning with a legend', () => {
  const spec = plotSpec(fakeReport()) as unknown as { vconcat: { data: { values: { series: string }[] }; encoding: Record<string, { field: string; legend?: unknown }> }[]; resolve: unknown };
  const [latency, throughput] = spec.vconcat;
  const bars = throughput!.data.values.map((v) => v.series);
  assert.deepEqual(bars, ['vgg16 (cpu) ×1', 'vgg16 (cpu) ×8', 'mobilenet (cpu) ×1', 'mobilenet (cpu) ×8']);
  assert.equal(throughput!.encoding.y!.field, 'series');
  assert.equal(latency!.encoding.y!.field, 'series');
  assert.equal(latency!.encoding.color!.field, throughput!.encoding.color!.field);
  assert.notEqual(latency!.encoding.color!.legend, null);
  assert.equal(throughput!.encoding.yOffset, undefined);
});

test('plot: few samples without outliers render without a Vega warning', async () => {
  const { renderPlot } = await import('../src/measure/plot.js');
  const report = fakeReport();
  for (const m of report.models) for (const r of m.runs) r.samplesMs = [4.5, 1.38, 1.18].map((x) => x * r.batchSize);
  const file = path.join(tmp(), 'plot.svg');
  const result = await renderPlot(report, file);
  assert.deepEqual(result.warnings, []);
});

test('on a terminal the progress bar and the table never share a line, and the summary comes last', { skip }, async () => {
  const folder = path.join(DATA_DIR, 'images');
  const cmd = `stty cols 200 rows 60; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} classify ${JSON.stringify(folder)} -k 2 -m mobilenet_0.25 -b 2`;
  const transcript = await new Promise<string>((resolve, reject) => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...env(), TERM: 'xterm' };
    delete e.NO_COLOR;
    delete e.FORCE_COLOR;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: e });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
  assert.match(transcript, /images \|/, 'the bar was drawn');
  const screen = screenOf(transcript.replace(/\x1b\[[0-9;]*m/g, '')).filter((l) => l.trim() !== '');
  const files = readdirSync(folder).sort();
  const pathRows = screen.filter((l) => l.startsWith(folder + '/'));
  assert.deepEqual(pathRows.map((l) => path.basename(l)), files, 'every path starts its own line, in order');
  assert.ok(!screen.some((l) => l.includes('images |')), 'the bar is cleared at the end');
  assert.match(screen[screen.length - 1]!, /^26 of 27 images done in .*, 1 failed$/);
  for (const [i, l] of screen.entries()) {
    if (l.startsWith(folder + '/') && !l.endsWith('truncated__skimage.jpg')) {
      assert.match(screen[i + 1]!, /^ {3}1\. \S+/, `rank 1 follows ${l}`);
      assert.match(screen[i + 2]!, /^ {3}2\. \S+/, `rank 2 follows ${l}`);
    }
  }
});

// Issue 25, the smaller things a new user met: each message as the built CLI prints it.
test('a failed input is named once in its error line; weights from a file are said once', { skip }, async () => {
  const dir = tmp();
  const bad = path.join(dir, 'x.jpg');
  writeFileSync(bad, 'not an image');
  const r = await runCli(['classify', bad, APPLE, ...MODEL, '-w', MODELS('mobilenet_v1_0.25_224/model.json'), '-k', '1'], { env: env() });
  assert.equal(r.code, 3, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.includes(bad));
  assert.deepEqual(lines, [`Error: Cannot decode ${bad}: not an image format this sharp build reads.`]);
  assert.equal(r.stderr.match(/Loaded 55 layers/g)?.length, 1, r.stderr);
});

test('-o FILE whose extension another command writes names -o, not --format', async () => {
  const r = await runCli(['classify', APPLE, ...MODEL, '-o', path.join(tmp(), 'c.npy')], { env: env() });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^Error: -o \S+c\.npy: npy files are for extract; classify writes \.jsonl, .*\.csv\.\n$/);
});

test('nothing to do (empty stdin, a folder without images): exit 4 before any backend starts, --ext said only for folders', async () => {
  const empty = tmp();
  // A backend that cannot start here would be exit 1: exit 4 says it was never asked to.
  const e = { ...env(), BACKBONES_BACKEND: 'tensorflow' };
  const [stdin, folder] = await Promise.all([runCli(['classify', '-', ...MODEL], { env: e, input: '' }), runCli(['extract', empty, ...MODEL], { env: e })]);
  assert.equal(stdin.code, 4, stdin.stderr);
  assert.equal(stdin.stderr, 'Warning: No images to process: no image path on stdin; nothing was written.\n');
  assert.equal(folder.code, 4, folder.stderr);
  assert.match(folder.stderr, /^Warning: No images to process in \S+ \(looked for \.jpg, .*; --ext changes that\); nothing was written\.\n$/);
});

test('offline: models pull says to copy the model folder, and does not suggest itself; a run suggests models pull', async () => {
  const port = await closedPort();
  const e = { BACKBONES_CACHE: mkdtempSync(path.join(os.tmpdir(), 'bb-offline-')), BACKBONES_WEIGHTS_MIRROR: `http://127.0.0.1:${port}` };
  const [pull, run] = await Promise.all([runCli(['models', 'pull', 'mobilenet_0.25'], { env: e }), runCli(['classify', APPLE, ...MODEL], { env: e })]);
  assert.equal(pull.code, 1, pull.stderr);
  const folder = path.join(e.BACKBONES_CACHE, 'mobilenet_0.25', 'model');
  assert.equal(
    pull.stderr,
    `Error: Could not download http://127.0.0.1:${port}/tfjs-models/tfjs/mobilenet_v1_0.25_224/model.json (connection refused): copy the model folder (model.json and its weight shards) to ${folder} from a machine that can download it, or give runs --weights PATH.\n`,
  );
  assert.match(run.stderr, new RegExp(`run \`backbones models pull mobilenet_0\\.25\` on a machine with internet, copy the model folder \\(model\\.json and its weight shards\\) to ${folder.replace(/[.]/g, '\\.')}, or pass --weights PATH\\.`));
});

test('quantize on one calibration image says "1 image"', { skip }, async () => {
  const calib = tmp();
  cpSync(APPLE, path.join(calib, 'apple.jpg'));
  const r = await runCli(['quantize', ...MODEL, '--calibrate', calib, '-f', 'json'], { env: { BACKBONES_CACHE: cacheWithMobilenet025() } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /mobilenet_0\.25: calibrating on 1 image in /);
  assert.doesNotMatch(r.stderr, /\b1 images\b/);
  assert.equal(JSON.parse(r.stdout).calibration.images, 1);
});

test('bench: a missing int8 model and an empty --images folder are refused before the first model runs', async () => {
  const e = env();
  const empty = tmp();
  const [int8, images] = await Promise.all([
    runCli(['--backend', 'onnx', 'bench', 'mobilenet_0.25', '--precisions', 'fp32,int8', '--batch-sizes', '1', '-n', '1', '-f', 'json'], { env: e }),
    runCli(['bench', 'mobilenet_0.25', '--images', empty, '--batch-sizes', '1', '-n', '1', '-f', 'json'], { env: e }),
  ]);
  assert.equal(int8.code, 2, int8.stderr);
  assert.match(int8.stderr, /^Error: --precision int8 needs calibration: no int8 model is cached \(for mobilenet_0\.25 or any other\); pass --calibrate DIR/m);
  assert.doesNotMatch(int8.stderr, /\[1\/2\]/, 'no model ran');
  assert.equal(images.code, 4, images.stderr);
  assert.match(images.stderr, /^Error: --images \S+: No images to process in/m);
  assert.doesNotMatch(images.stderr, /\[1\/1\]/, 'no model ran');
});

test('bench --precisions: a failed int8 row names its engine and precision, and warnings name the precision', { skip }, async () => {
  // An int8 model of other weights is cached: the check before the first model passes, the int8 child finds none for these weights.
  const cache = cacheWithMobilenet025();
  mkdirSync(path.join(cache, 'onnx', 'int8', 'other-weights'), { recursive: true });
  writeFileSync(path.join(cache, 'onnx', 'int8', 'other-weights', 'x.onnx'), '');
  const r = await runCli(['bench', 'mobilenet_0.25', '--precisions', 'fp32,int8', '--batch-sizes', '1', '-n', '1', '--warmup', '0', '-f', 'json'], { env: { BACKBONES_CACHE: cache } });
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as { models: { status: string; backend?: string; precision?: string }[] };
  assert.deepEqual(report.models.map((m) => [m.status, m.backend, m.precision]), [['ok', 'onnx', 'fp32'], ['failed', 'onnx', 'int8']]);
  assert.match(r.stderr, /Error: mobilenet_0\.25 int8 failed: --precision int8 needs calibration/);
  // Only 1 timed run: the fp32 row's warning says it is the fp32 row.
  assert.match(r.stderr, /Warning: mobilenet_0\.25 on onnx fp32, batch 1: Only 1 timed run/);
});

test('bench -f markdown on a terminal prints each warning once (in the report)', { skip }, async () => {
  const cmd = `stty cols 120 rows 60; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} bench mobilenet_0.25 --batch-sizes 1 -n 1 --warmup 0 -f markdown`;
  const transcript = await new Promise<string>((resolve, reject) => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...env(), TERM: 'xterm', NO_COLOR: '1' };
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: e });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
  assert.match(transcript, /## Warnings/);
  assert.equal(transcript.match(/Only 1 timed run/g)?.length, 1, transcript);
});
