// The run spec (issue 20), through the built CLI on the real MobileNet v1 0.25 and real
// photos: every option is checked before anything starts (nothing written, no backend,
// no port), a result records how it was made (FILE.spec.json) and --resume refuses a file
// made differently in every format, an int8 file made from another network is refused,
// the header says which precision and int8 model run, and -o through a dangling symlink
// writes (and locks) the file it points to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, runCli } from './helpers/cli.js';
import { IMAGES, skipWithoutData } from './helpers/data.js';
import { cacheWithMobilenet025, parseJsonl } from './helpers/cache.js';
import { readNpy } from './helpers/npy.js';
import { cudaProviderInstalled } from '../src/engines/onnx.js';

const skip = skipWithoutData();
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'bb-spec-'));
let cache = '';
const env = () => ({ BACKBONES_CACHE: (cache ||= cacheWithMobilenet025()) });
const APPLE = IMAGES('apple_red__opencv.jpg');
const CAT = IMAGES('cat_tabby_chelsea__skimage.png');
const COFFEE = IMAGES('coffee_espresso_cup__skimage.png');
const MODEL = ['-m', 'mobilenet_0.25'];

/** Every file of a folder with its bytes: what "nothing was touched" compares. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(path.join(dir, f)).toString('base64')]));
}

/** A folder of `n` small photos (links to three real ones) under distinct names. */
function photoFolder(n: number): string {
  const dir = tmp();
  const sources = [APPLE, CAT, COFFEE];
  for (let i = 0; i < n; i++) symlinkSync(sources[i % 3]!, path.join(dir, `img${String(i).padStart(3, '0')}${path.extname(sources[i % 3]!)}`));
  return dir;
}

test('options that cannot work are refused before anything starts: one sentence, exit 2, no backend, nothing written', { skip }, async () => {
  const dir = tmp();
  const out = path.join(dir, 'f.jsonl');
  const labels = path.join(dir, 'two.txt');
  writeFileSync(labels, 'cat\ndog\n');
  const cases: Array<[string[], RegExp]> = [
    [['--background', 'notacolour'], /--background "notacolour" is not a colour/],
    [['--decode-threads', '1000'], new RegExp(`--decode-threads 1000 is more than this machine can use: it has ${os.availableParallelism()} cores? .*so at most ${2 * os.availableParallelism()}\\.`)],
    [['--workers', '1000'], /--workers 1000 is more than this machine can use/],
    [['-b', '100000000'], /--batch-size 100000000 is more than this machine can use: a batch of 224x224 images takes .* GB for its input alone and this machine has .* GB of memory, so at most \d+\./],
    // (classify: --labels is offered only where labels are printed)
    [['--labels', labels], /--labels .*two\.txt has 2 labels; mobilenet_0\.25 has 1000 classes\./],
    [['--alpha', '0.3', '-w', 'random'], /--alpha 0\.3 is not a width mobilenet is built at: use 0\.25, 0\.5, 0\.75, 1\.0\./],
    [['--decode', 'fast', '--keras-compat'], /--decode fast cannot be combined with --keras-compat/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli([args[0] === '--labels' ? 'classify' : 'extract', APPLE, ...MODEL, ...args, '-o', out], { env: env() });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /backend:|model:/, 'nothing started');
  }
  assert.deepEqual(readdirSync(dir), ['two.txt'], 'nothing written, not even a lock');
});

test('--provider cuda without ONNX Runtime\'s CUDA library: one sentence before any image, no raw ONNX Runtime log, even with -q', { skip: skip || (cudaProviderInstalled() ? 'the CUDA provider is installed here' : false) }, async () => {
  const dir = tmp();
  for (const quiet of [[], ['-q']]) {
    const r = await runCli(['--provider', 'cuda,cpu', ...quiet, 'extract', APPLE, CAT, ...MODEL, '-o', path.join(dir, 'f.jsonl')], { env: env() });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^Error: --provider cuda: ONNX Runtime's cuda provider is not installed \(no libonnxruntime_providers_cuda\.so in .*\); install it with `node node_modules\/onnxruntime-node\/script\/install\.js --onnxruntime-node-install=cuda12`, or leave cuda out of --provider\.\n$/);
  }
  assert.deepEqual(readdirSync(dir), []);
});

test('serve refuses a bad option before it listens', { skip }, async () => {
  for (const args of [['--background', 'notacolour'], ['--decode-threads', '1000'], ['--max-batch', '100000000']]) {
    const r = await runCli(['serve', ...MODEL, '--port', '0', ...args], { env: env(), timeoutMs: 60_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /listening|backend:/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('every output file records its spec: FILE.spec.json names the fields and their fingerprint', { skip }, async () => {
  const dir = tmp();
  const out = path.join(dir, 'f.npy');
  const r = await runCli(['extract', APPLE, ...MODEL, '--layer', 'conv_pw_13_relu', '--pool', 'avg', '--l2', '--decode', 'fast', '--background', '#808080', '-o', out], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const spec = JSON.parse(readFileSync(`${out}.spec.json`, 'utf8'));
  assert.match(spec.fingerprint, /^[0-9a-f]{16}$/);
  assert.deepEqual(spec.fields, {
    kind: 'extract', model: 'mobilenet_0.25', weights: 'imagenet', input: '224x224', preprocess: 'tf',
    layer: 'conv_pw_13_relu', pool: 'avg', l2: 'true', resize: 'squash', interpolation: 'bilinear',
    background: '#808080', kerasCompat: 'false', decode: 'fast', precision: 'fp32',
  });
  assert.match(r.stderr, new RegExp(`spec ${spec.fingerprint}: kind extract, model mobilenet_0\\.25`), 'the header says it too');
  assert.match(r.stderr, /precision: fp32/);
  // A model file's weights are identified by their bytes, not by the path they were reached by.
  const link = path.join(dir, 'same-model');
  symlinkSync(path.dirname(path.join(cache, 'mobilenet_0.25', 'model', 'model.json')), link);
  const [a, b] = await Promise.all(
    [path.join(cache, 'mobilenet_0.25', 'model', 'model.json'), path.join(link, 'model.json')].map((m, i) =>
      runCli(['extract', APPLE, '-m', m, '--preprocess', 'tf', '--layer', 'conv_preds', '-o', path.join(dir, `m${i}.jsonl`)], { env: env() }),
    ),
  );
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const wa = JSON.parse(readFileSync(path.join(dir, 'm0.jsonl.spec.json'), 'utf8')).fields.weights;
  assert.match(wa, /^sha256:[0-9a-f]{16}$/);
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'm1.jsonl.spec.json'), 'utf8')).fields.weights, wa);
});

test('--resume refuses a file made differently, in every format, and leaves it as it was; --overwrite starts it again', { skip }, async () => {
  // Each format with one of the changes that slip through a width check (the 0.25 net's layers are all 256 wide).
  const cases: Array<[string, string[], RegExp]> = [
    ['jsonl', ['--l2'], /l2 false → true/],
    ['csv', ['--layer', 'conv_pw_13_relu', '--pool', 'avg'], /layer global_average_pooling2d_1 → conv_pw_13_relu; pool none → avg/],
    ['npy', ['-w', 'random'], /weights imagenet → random seed 42/],
  ];
  for (const [ext, args, diff] of cases) {
    const dir = tmp();
    const out = path.join(dir, `f.${ext}`);
    const first = await runCli(['extract', APPLE, ...MODEL, '-o', out], { env: env() });
    assert.equal(first.code, 0, first.stderr);
    const before = snapshot(dir);
    const r = await runCli(['extract', APPLE, CAT, ...MODEL, ...args, '-o', out, '--resume'], { env: env() });
    assert.equal(r.code, 2, `${ext} ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`--resume: .*f\\.${ext} was made differently \\(.*${diff.source}.*\\), so it was left as it is; rerun without --resume, or with --overwrite, to start it again\\.`));
    assert.doesNotMatch(r.stderr, /backend:/, 'refused before the backend starts');
    assert.deepEqual(snapshot(dir), before, `${ext} ${args.join(' ')}: the file and its sidecars are unchanged`);
    if (ext !== 'npy') continue;
    // The same spec continues; --overwrite starts a file made differently again, whole.
    const same = await runCli(['extract', APPLE, CAT, ...MODEL, '-o', out, '--resume'], { env: env() });
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /Resuming: 1 input already/);
    const again = await runCli(['extract', APPLE, CAT, ...MODEL, '--l2', '-o', out, '--resume', '--overwrite'], { env: env() });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /--overwrite: starting .* again/);
    const { shape, data } = readNpy(out);
    assert.equal(shape[0], 2, 'both inputs, once');
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(Math.hypot(...data.slice(i * shape[1]!, (i + 1) * shape[1]!)) - 1) < 1e-5, 'every row L2-normalised');
    assert.equal(JSON.parse(readFileSync(`${out}.spec.json`, 'utf8')).fields.l2, 'true');
  }
});

test('a killed run\'s partial file is not continued by a run made differently', { skip }, async () => {
  const photos = photoFolder(60);
  const out = path.join(tmp(), 'f.jsonl');
  const args = ['extract', photos, ...MODEL, '-b', '1', '-o', out];
  await new Promise<void>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env() }, stdio: 'ignore' });
    const timer = setInterval(() => {
      if (existsSync(`${out}.partial`) && statSync(`${out}.partial`).size > 5000) child.kill('SIGKILL');
    }, 5);
    child.on('close', () => {
      clearInterval(timer);
      resolve();
    });
  });
  const partial = readFileSync(`${out}.partial`);
  const r = await runCli([...args, '--resume', '--l2'], { env: env() });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /f\.jsonl\.partial was made differently \(l2 false → true\)/);
  assert.ok(readFileSync(`${out}.partial`).equals(partial), 'the partial file is left as it was');
  assert.ok(existsSync(`${out}.spec.json.partial`), 'the spec is written before the first record');
  const resumed = await runCli([...args, '--resume'], { env: env() });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(parseJsonl(readFileSync(out, 'utf8')).length, 60);
});

test('-o through a dangling symlink writes the file it points to, keeps the link, and locks the target', { skip }, async () => {
  const dir = tmp();
  mkdirSync(path.join(dir, 'real'));
  const target = path.join(dir, 'real', 'labels.jsonl');
  const link = path.join(dir, 'link.jsonl');
  symlinkSync(path.join('real', 'labels.jsonl'), link);
  // The first run reads its paths from stdin: it holds the output while stdin stays open.
  const child = spawn(process.execPath, [BIN, 'classify', '-', ...MODEL, '-o', link], { env: { ...process.env, ...env() }, stdio: ['pipe', 'ignore', 'ignore'] });
  const first = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stdin.write(`${APPLE}\n`);
  for (let i = 0; i < 6000 && !existsSync(`${target}.lock`); i++) await new Promise((r) => setTimeout(r, 5));
  const second = await runCli(['classify', CAT, ...MODEL, '-o', target], { env: env() });
  child.stdin.end();
  assert.equal(second.code, 1, second.stderr);
  assert.match(second.stderr, /Another backbones run \(PID \d+\) is writing .*labels\.jsonl/);
  assert.equal(await first, 0);
  assert.ok(lstatSync(link).isSymbolicLink(), 'the link stays a link');
  assert.deepEqual(parseJsonl(readFileSync(target, 'utf8')).map((r) => r.path), [APPLE]);
  assert.ok(existsSync(`${target}.spec.json`));
  assert.deepEqual(readdirSync(dir).sort(), ['link.jsonl', 'real']);
});

/** The real photos split in two: even positions calibrate (a few), odd ones are left. */
function calibrationFolder(): string {
  const dir = tmp();
  for (const f of [APPLE, CAT, COFFEE, IMAGES('mandrill_baboon__opencv.jpg')]) symlinkSync(f, path.join(dir, path.basename(f)));
  return dir;
}

test('int8: a file made from another network is refused before it loads; the header names the int8 file and its calibration', { skip }, async () => {
  const calib = calibrationFolder();
  const dir = tmp();
  const file = path.join(dir, 'm.int8.onnx');
  const q = await runCli(['quantize', '-m', 'mobilenet_0.25', '--calibrate', calib, '-o', file, '-f', 'json'], { env: env() });
  assert.equal(q.code, 0, q.stderr);
  const foreign: Array<[string[], RegExp]> = [
    [['extract', APPLE, '-m', 'mobilenet', '-w', 'random'], /--int8-model .*m\.int8\.onnx was made from mobilenet_0\.25 \(weights imagenet, input 224x224\), not from this run's mobilenet \(weights random seed 42, input 224x224\); make one with `backbones quantize -m mobilenet --calibrate DIR -o FILE`\./],
    [['classify', APPLE, '-m', 'vgg16'], /was made from mobilenet_0\.25 .*not from this run's vgg16/],
  ];
  for (const [args, message] of foreign) {
    const r = await runCli(['--backend', 'onnx', ...args, '--int8-model', file], { env: env() });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /backend:|model:/, 'refused before anything loads');
  }
  // A layer the file does not expose: the message says how to make one that does, and that works.
  const missing = await runCli(['--backend', 'onnx', 'extract', APPLE, ...MODEL, '--int8-model', file, '--layer', 'conv_pw_13_relu', '--pool', 'avg'], { env: env() });
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /has no output conv_pw_13_relu .*; make one with `backbones quantize -m mobilenet_0\.25 --calibrate DIR --layer conv_pw_13_relu -o FILE`\./);
  const withLayer = path.join(dir, 'layer.int8.onnx');
  const q2 = await runCli(['quantize', '-m', 'mobilenet_0.25', '--calibrate', calib, '--layer', 'conv_pw_13_relu', '-o', withLayer, '-f', 'json'], { env: env() });
  assert.equal(q2.code, 0, q2.stderr);
  const out = path.join(dir, 'f.jsonl');
  const ok = await runCli(['--backend', 'onnx', 'extract', APPLE, ...MODEL, '--int8-model', withLayer, '--layer', 'conv_pw_13_relu', '--pool', 'avg', '-o', out], { env: env() });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, new RegExp(`precision: int8, int8 model ${withLayer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, calibrated on 4 images of ${calib.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, percentile 99\\.999`));
  assert.match(JSON.parse(readFileSync(`${out}.spec.json`, 'utf8')).fields.int8, /^sha256:[0-9a-f]{16}$/, 'the int8 model is part of the spec');
  // The cached model picked without --int8-model is named too.
  const cached = await runCli(['--backend', 'onnx', 'classify', APPLE, ...MODEL, '--precision', 'int8'], { env: env() });
  assert.equal(cached.code, 0, cached.stderr);
  assert.match(cached.stderr, /precision: int8, int8 model .*onnx[/\\]int8[/\\].*\.onnx, calibrated on 4 images/);
});

test('serve: the model metadata carries the spec its answers are made with, as the header says', { skip }, async () => {
  const child = spawn(process.execPath, [BIN, '--backend', 'onnx', 'serve', ...MODEL, '--port', '0', '--decode', 'fast'], { env: { ...process.env, ...env(), NO_COLOR: '1' } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const until = async (what: string, done: () => Promise<boolean>) => {
    for (let i = 0; i < 1200; i++) {
      if (await done().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`timed out waiting for ${what}: ${stderr}`);
  };
  try {
    await until('the listening line', async () => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(stderr));
    const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1]!;
    await until('ready', async () => (await fetch(`${url}/v2/health/ready`)).status === 200);
    const meta = (await (await fetch(`${url}/v2/models/mobilenet_0.25`)).json()) as { parameters: Record<string, string> };
    const fingerprint = /spec ([0-9a-f]{16}): model mobilenet_0\.25/.exec(stderr)?.[1];
    assert.ok(fingerprint, stderr);
    assert.equal(meta.parameters.spec, fingerprint);
    assert.equal(meta.parameters.spec_model, 'mobilenet_0.25');
    assert.equal(meta.parameters.spec_decode, 'fast');
    assert.equal(meta.parameters.spec_precision, 'fp32');
    assert.match(stderr, /precision: fp32/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    child.kill('SIGKILL');
  }
});
