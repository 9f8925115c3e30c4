// `backbones models` and the weights paths of the model zoo through the CLI:
// list/info/path, pull from a local mirror (progress, checksum), and a Keras-layout
// .h5 written from real weights loading into the zoo architecture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './helpers/cli.js';
import { IMAGES, MODELS, skipWithoutData } from './helpers/data.js';
import { emptyCache, parseJsonl, cacheWithMobilenet025 } from './helpers/cache.js';
import { readTfjsLayersWeights } from '../src/weights/tfjs.js';
import { writeKerasH5 } from './helpers/keras-h5.js';

const skip = skipWithoutData();

/** Serves a folder under /tfjs-models/tfjs/mobilenet_v1_0.25_224/ (the card's URL path). */
function mirror(dir: string, opts: { corrupt?: boolean } = {}): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      requests.push(req.url!);
      const m = req.url!.match(/^\/tfjs-models\/tfjs\/mobilenet_v1_0\.25_224\/([\w.-]+)$/);
      const file = m ? path.join(dir, m[1]!) : '';
      if (!m || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': statSync(file).size });
      if (opts.corrupt && m[1] === 'model.json') res.end(' '.repeat(statSync(file).size));
      else createReadStream(file).pipe(res);
    }).listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests }));
  });
}

test('models list --json: every card with params, MACs, feature layer, cache state', async () => {
  const r = await runCli(['models', 'list', '--json'], { env: { BACKBONES_CACHE: emptyCache() } });
  assert.equal(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout);
  const byName = Object.fromEntries(list.map((m: { name: string }) => [m.name, m]));
  assert.deepEqual(Object.keys(byName).sort(), ['inception_v3', 'mobilenet', 'mobilenet_0.25', 'mobilenet_v2', 'resnet50', 'vgg16', 'vgg19']);
  assert.equal(byName.vgg16.parameters, 138_357_544);
  assert.equal(byName.vgg16.featureLayer, 'fc2');
  assert.equal(byName.vgg16.featureDim, 4096);
  assert.equal(byName.resnet50.preprocess, 'caffe');
  assert.equal(byName.mobilenet.weightsCached, false);
  const filtered = await runCli(['models', 'list', 'mobilenet*', '--json']);
  assert.deepEqual(JSON.parse(filtered.stdout).map((m: { name: string }) => m.name), ['mobilenet', 'mobilenet_0.25', 'mobilenet_v2']);
});

test('models list (table) marks cached weights', { skip }, async () => {
  const r = await runCli(['models', 'list'], { env: { BACKBONES_CACHE: cacheWithMobilenet025() } });
  assert.match(r.stdout, /mobilenet_0\.25\s+224x224\s+476 k.*cached/);
  assert.match(r.stdout, /vgg16\s+224x224\s+138\.4 M\s+15\.47\s+fc2 \(4096\)\s+caffe\s+71\.3%\s+not cached/);
});

test('models info --layers --json lists every layer with its output shape', async () => {
  const r = await runCli(['models', 'info', 'mobilenet_0.25', '--layers', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.name, 'mobilenet_0.25');
  const layers = Object.fromEntries(info.layers.map((l: { name: string; outputShape: number[] }) => [l.name, l.outputShape]));
  assert.deepEqual(layers.conv_pw_13_relu, [7, 7, 256]);
  assert.deepEqual(layers.global_average_pooling2d_1, [256]);
  assert.deepEqual(layers.reshape_2, [1000]);
  assert.ok(info.weights.some((w: { format: string; hash: string }) => w.format === 'tfjs-layers' && w.hash.length === 64));
});

test('models info on a model file and models path', { skip }, async () => {
  const r = await runCli(['models', 'info', MODELS('nsfwjs_mobilenet_v2'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).parameters, 2_619_461);
  const p = await runCli(['models', 'path'], { env: { BACKBONES_CACHE: '/tmp/some-cache' } });
  assert.equal(p.stdout.trim(), '/tmp/some-cache');
  const j = await runCli(['--cache-dir', '/tmp/flag-cache', 'models', 'path', '--json'], { env: { BACKBONES_CACHE: '/tmp/some-cache' } });
  assert.deepEqual(JSON.parse(j.stdout), { cacheDir: '/tmp/flag-cache' });
});

test('models pull downloads from a mirror, verifies the checksum, and classify then uses the cache', { skip }, async () => {
  const { server, url, requests } = await mirror(MODELS('mobilenet_v1_0.25_224'));
  try {
    const cache = emptyCache();
    const r = await runCli(['models', 'pull', 'mobilenet_0.25', '--json'], { env: { BACKBONES_CACHE: cache, BACKBONES_WEIGHTS_MIRROR: url } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout)[0].status, 'downloaded');
    assert.equal(readdirSync(path.join(cache, 'mobilenet_0.25', 'model')).length, 56); // model.json + 55 shards
    assert.match(r.stderr, /mobilenet_0\.25 model\.json/, 'progress on stderr');
    const served = requests.length;
    const c = await runCli(['classify', IMAGES('coffee_espresso_cup__skimage.png'), '-m', 'mobilenet_0.25', '-k', '1'], { env: { BACKBONES_CACHE: cache, BACKBONES_WEIGHTS_MIRROR: url } });
    assert.equal(parseJsonl(c.stdout)[0]!.predictions[0].label, 'espresso');
    assert.equal(requests.length, served, 'no second download');
    const again = await runCli(['models', 'pull', 'mobilenet_0.25', '--json'], { env: { BACKBONES_CACHE: cache, BACKBONES_WEIGHTS_MIRROR: url } });
    assert.equal(JSON.parse(again.stdout)[0].status, 'cached');
  } finally {
    server.close();
  }
});

test('--weights URL and -m URL fetch over http (a local server standing in for the internet)', { skip }, async () => {
  const { server, url } = await mirror(MODELS('mobilenet_v1_0.25_224'));
  try {
    const modelUrl = `${url}/tfjs-models/tfjs/mobilenet_v1_0.25_224/model.json`;
    const img = IMAGES('coffee_espresso_cup__skimage.png');
    const cache = emptyCache();
    const [weights, model] = await Promise.all([
      runCli(['classify', img, '-m', 'mobilenet_0.25', '--weights', modelUrl, '-k', '1'], { env: { BACKBONES_CACHE: cache } }),
      runCli(['classify', img, '-m', modelUrl, '--preprocess', 'tf', '-k', '1']),
    ]);
    assert.equal(weights.code, 0, weights.stderr);
    assert.match(weights.stderr, /Loaded \d+ layers by name/);
    assert.equal(parseJsonl(weights.stdout)[0]!.predictions[0].label, 'espresso');
    assert.equal(model.code, 0, model.stderr);
    assert.equal(parseJsonl(model.stdout)[0]!.predictions[0].index, 967);
  } finally {
    server.close();
  }
});

test('a checksum mismatch is an error and leaves nothing in the cache', { skip }, async () => {
  const { server, url } = await mirror(MODELS('mobilenet_v1_0.25_224'), { corrupt: true });
  try {
    const cache = emptyCache();
    const r = await runCli(['models', 'pull', 'mobilenet_0.25'], { env: { BACKBONES_CACHE: cache, BACKBONES_WEIGHTS_MIRROR: url } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Checksum mismatch/);
    const left = existsSync(path.join(cache, 'mobilenet_0.25')) ? readdirSync(path.join(cache, 'mobilenet_0.25')) : [];
    assert.deepEqual(left, []);
  } finally {
    server.close();
  }
});

test('a Keras-layout .h5 written from the real weights loads into the zoo architecture and classifies the same', { skip }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-h5-'));
  const file = path.join(dir, 'mobilenet_2_5_224_tf.h5');
  const weights = await readTfjsLayersWeights(MODELS('mobilenet_v1_0.25_224'));
  // Keras writes .h5 names as "<layer>/<weight>:0".
  const layers = weights.layers.map((l) => ({ name: l.name, weights: l.weights.map((w) => ({ ...w, name: `${l.name}/${w.name.split('/').pop()}:0` })) }));
  await writeKerasH5(file, layers, { layout: 'weights-only' });
  const img = IMAGES('cameraman_tripod_gray__skimage.png');
  const [h5, ref] = await Promise.all([
    runCli(['classify', img, '-m', 'mobilenet_0.25', '--weights', file, '-k', '3']),
    runCli(['classify', img, '-m', MODELS('mobilenet_v1_0.25_224'), '--preprocess', 'tf', '-k', '3']),
  ]);
  assert.equal(h5.code, 0, h5.stderr);
  assert.match(h5.stderr, /Loaded \d+ layers by name/);
  const a = parseJsonl(h5.stdout)[0]!.predictions;
  const b = parseJsonl(ref.stdout)[0]!.predictions;
  assert.deepEqual(a.map((p: { index: number }) => p.index), b.map((p: { index: number }) => p.index));
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(a[i].prob - b[i].prob) < 1e-5);
});

test('weights that do not fit the architecture are a clear error', { skip }, async () => {
  const r = await runCli(['classify', IMAGES('apple_red__opencv.jpg'), '-m', 'mobilenet', '--weights', MODELS('mobilenet_v1_0.25_224')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Weights do not fit the model/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});
