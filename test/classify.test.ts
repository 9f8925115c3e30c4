// classify through the built CLI on real photos and real models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { runCli } from './helpers/cli.js';
import { IMAGES, MODELS, DATA_DIR, skipWithoutData } from './helpers/data.js';
import { cacheWithMobilenet025, emptyCache, parseJsonl } from './helpers/cache.js';
import path from 'node:path';
import { createServer } from 'node:net';

/** A port on 127.0.0.1 with nothing listening. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const skip = skipWithoutData();
const CAT_CLASSES = new Set([281, 282, 283, 284, 285, 286, 287]); // tabby … lynx
const PHOTOS = ['cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png', 'cameraman_tripod_gray__skimage.png'];

test('mobilenet_0.25 (built in code, real weights from the cache) labels the cat, the coffee and the cameraman', { skip }, async () => {
  const cache = cacheWithMobilenet025();
  const r = await runCli(['classify', ...PHOTOS.map(IMAGES), '-m', 'mobilenet_0.25', '-k', '3'], { env: { BACKBONES_CACHE: cache } });
  assert.equal(r.code, 0, r.stderr);
  const [cat, coffee, cameraman] = parseJsonl(r.stdout);
  assert.ok(cat!.predictions.every((p: { index: number }) => CAT_CLASSES.has(p.index)), JSON.stringify(cat));
  assert.equal(coffee!.predictions[0].index, 967);
  assert.equal(coffee!.predictions[0].label, 'espresso');
  assert.equal(coffee!.predictions[0].wnid, 'n07920052');
  assert.equal(cameraman!.predictions[0].index, 872);
  assert.equal(cameraman!.predictions[0].label, 'tripod');
  assert.ok(coffee!.predictions[0].prob > 0.8 && coffee!.predictions[0].prob <= 1);
  // Engine, provider and adapter; which ones depends on the machine (a GPU machine runs webgpu or cuda).
  assert.match(r.stderr, /backend: (onnx \(onnxruntime-node [\d.]+, [a-z+]+|tensorflow \(\w+: \S+ [\d.]+\)|[a-z]+ \().*, \d+ threads?\) on (CPU|GPU) \S/);
});

test('the same model file loaded as is gives the same labels', { skip }, async () => {
  const r = await runCli(['classify', IMAGES(PHOTOS[1]!), '-m', MODELS('mobilenet_v1_0.25_224'), '--preprocess', 'tf', '-k', '1']);
  assert.equal(r.code, 0, r.stderr);
  const [coffee] = parseJsonl(r.stdout);
  assert.equal(coffee!.predictions[0].index, 967);
});

test('a 1001-class graph model with --label-offset 1 puts cat classes first', { skip }, async () => {
  const r = await runCli([
    'classify', IMAGES(PHOTOS[0]!), '-m', MODELS('mobilenet_v1_0.25_224_graph'), '--preprocess', 'unit', '--label-offset', '1', '-k', '3', '--format', 'json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [cat] = JSON.parse(r.stdout);
  assert.deepEqual(cat.predictions.map((p: { index: number }) => CAT_CLASSES.has(p.index)), [true, true, true]);
  assert.equal(cat.predictions[0].wnid !== null, true, 'ImageNet wnids come with 1000 classes');
  const total = cat.predictions.reduce((s: number, p: { prob: number }) => s + p.prob, 0);
  assert.ok(total <= 1 + 1e-6);
});

test('wrong preprocessing is visible: caffe mode loses the cat', { skip }, async () => {
  const r = await runCli(['classify', IMAGES(PHOTOS[0]!), '-m', MODELS('mobilenet_v1_0.25_224'), '--preprocess', 'caffe', '-k', '1']);
  const [cat] = parseJsonl(r.stdout);
  assert.equal(CAT_CLASSES.has(cat!.predictions[0].index), false);
});

test('a whole folder: every file once, in sorted order, the truncated JPEG an error record, exit code 3', { skip }, async () => {
  const cache = cacheWithMobilenet025();
  const dir = path.join(DATA_DIR, 'images');
  const r = await runCli(['classify', dir, '-m', 'mobilenet_0.25', '-k', '1', '-b', '4'], { env: { BACKBONES_CACHE: cache } });
  assert.equal(r.code, 3, r.stderr);
  const records = parseJsonl(r.stdout);
  const expected = readdirSync(dir).filter((f) => /\.(jpe?g|png|webp|gif|tiff?|bmp|avif)$/i.test(f)).sort().map((f) => path.join(dir, f));
  assert.deepEqual(records.map((x) => x.path), expected);
  const failed = records.filter((x) => x.error);
  assert.deepEqual(failed.map((x) => path.basename(x.path)), ['truncated__skimage.jpg']);
  assert.match(r.stderr, /truncated__skimage\.jpg: .*truncated/);
  assert.match(r.stderr, /26 of 27 images done.*1 failed/);
});

test('paths from stdin with "-", a missing one becomes an error record', { skip }, async () => {
  const input = [IMAGES(PHOTOS[1]!), '/no/such/file.jpg', IMAGES(PHOTOS[2]!)].join('\n') + '\n';
  const r = await runCli(['classify', '-', '-m', MODELS('mobilenet_v1_0.25_224'), '--preprocess', 'tf', '-k', '1'], { input });
  assert.equal(r.code, 3);
  const records = parseJsonl(r.stdout);
  assert.deepEqual(records.map((x) => path.basename(x.path)), [PHOTOS[1], 'file.jpg', PHOTOS[2]]);
  assert.equal(records[1]!.error, 'file not found');
  assert.equal(records[2]!.predictions[0].label, 'tripod');
});

test('csv and table formats', { skip }, async () => {
  const csv = await runCli(['classify', IMAGES(PHOTOS[1]!), '-m', 'mobilenet_0.25', '-k', '2', '--format', 'csv'], { env: { BACKBONES_CACHE: cacheWithMobilenet025() } });
  const lines = csv.stdout.trim().split('\n');
  assert.equal(lines[0], 'path,rank,index,wnid,label,prob,error');
  assert.equal(lines.length, 3);
  assert.match(lines[1]!, /,1,967,n07920052,espresso,0\.9/);
  const table = await runCli(['classify', IMAGES(PHOTOS[1]!), '-m', MODELS('mobilenet_v1_0.25_224'), '--preprocess', 'tf', '-k', '2', '--format', 'table']);
  assert.match(table.stdout, /1\. espresso\s+9\d\.\d%/);
});

test('a named input that does not exist is one clear error before any work', async () => {
  const r = await runCli(['classify', '/no/such/dir', '-m', 'mobilenet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Input not found: \/no\/such\/dir/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('an unknown model name lists the valid ones', async () => {
  const r = await runCli(['classify', IMAGES(PHOTOS[0]!), '-m', 'vgg17']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Unknown model "vgg17": valid names are .*vgg16/);
});

test('offline with nothing cached: one sentence saying how to fix it', async () => {
  // The mirror points at a closed port: the download is refused at once.
  const port = await closedPort();
  const r = await runCli(['classify', IMAGES(PHOTOS[0]!), '-m', 'mobilenet'], {
    env: { BACKBONES_CACHE: emptyCache(), BACKBONES_WEIGHTS_MIRROR: `http://127.0.0.1:${port}` },
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Could not download .*connection refused.*backbones models pull mobilenet.*--weights PATH/);
  assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('Error')).length, 1);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('random weights say so', { skip }, async () => {
  const r = await runCli(['classify', IMAGES(PHOTOS[0]!), '-m', 'mobilenet_0.25', '--weights', 'random', '-k', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /random weights: outputs are not meaningful/);
});
