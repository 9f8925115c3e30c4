// The weights resolver (src/weights/resolve.ts): which imagenet file a card gets, whether
// it is cached, where it would come from. No network: the cache is a temp folder.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getCard } from '../src/zoo/registry.js';
import { cachedPath } from '../src/weights/cache.js';
import { imagenetCached, imagenetSources, locateImagenet, planWeights, sourcesWithStatus, sourceUrl, weightsFormatOf } from '../src/weights/resolve.js';

// mobilenet_0.25 publishes two files with the head (TF.js with a checksum, Keras .h5 without) and one without.
const card = getCard('mobilenet_0.25');
let cache: string;
before(async () => {
  cache = await mkdtemp(path.join(os.tmpdir(), 'backbones-resolve-'));
});
after(async () => {
  await rm(cache, { recursive: true, force: true });
});

const describeSource = (s: { format: string; includeTop: boolean }) => `${s.format}${s.includeTop ? '+top' : ''}`;

describe('weights resolver', () => {
  test('imagenetSources: files fitting the head need, verifiable ones first', () => {
    assert.deepEqual(imagenetSources(card, 'with').map(describeSource), ['tfjs-layers+top', 'keras-h5+top']);
    assert.deepEqual(imagenetSources(card, 'without').map(describeSource), ['keras-h5']);
    assert.deepEqual(imagenetSources(card, 'any').map(describeSource), ['tfjs-layers+top', 'keras-h5+top', 'keras-h5']);
  });

  test('locateImagenet and imagenetCached follow the cache', async () => {
    const empty = await locateImagenet(card, { head: 'with', cacheDir: cache, prefer: 'cached' });
    assert.equal(describeSource(empty.source), 'tfjs-layers+top');
    assert.equal(empty.cached, false);
    assert.equal(empty.path, cachedPath(card.name, empty.source, cache));
    assert.equal(await imagenetCached(card, cache), false);
    await assert.rejects(
      planWeights(card, { includeTop: true, cacheDir: cache, allowDownload: false }),
      /The imagenet weights of mobilenet_0\.25 are not cached at .*model\.json; run `backbones models pull mobilenet_0\.25`/,
    );

    // Only the unverified .h5 with the head is cached: loading takes it, pull still wants the verifiable file.
    const h5 = imagenetSources(card, 'with')[1]!;
    const h5Path = cachedPath(card.name, h5, cache);
    await mkdir(path.dirname(h5Path), { recursive: true });
    await writeFile(h5Path, 'not really hdf5');
    const load = await locateImagenet(card, { head: 'with', cacheDir: cache, prefer: 'cached' });
    assert.deepEqual([describeSource(load.source), load.cached, load.path], ['keras-h5+top', true, h5Path]);
    const pull = await locateImagenet(card, { head: 'with', cacheDir: cache, prefer: 'best' });
    assert.deepEqual([describeSource(pull.source), pull.cached], ['tfjs-layers+top', false]);
    assert.equal(await imagenetCached(card, cache), true);
    assert.deepEqual(
      (await sourcesWithStatus(card, cache)).map((s) => [describeSource(s), s.cached, s.cachePath === cachedPath(card.name, s, cache)]),
      [['keras-h5+top', true, true], ['keras-h5', false, true], ['tfjs-layers+top', false, true]],
    );
    assert.deepEqual(await planWeights(card, { includeTop: true, cacheDir: cache, allowDownload: false }), {
      kind: 'imagenet',
      location: h5Path,
      format: 'keras-h5',
      origin: h5.url,
    });
    // Without the head the no-top file is the one to pull, and it is not cached.
    const noTop = await locateImagenet(card, { head: 'without', cacheDir: cache, prefer: 'best' });
    assert.deepEqual([describeSource(noTop.source), noTop.cached], ['keras-h5', false]);
  });

  test('planWeights: random, a variant without imagenet weights, a missing file', async () => {
    assert.deepEqual(await planWeights(card, { weights: 'random', includeTop: true, cacheDir: cache }), { kind: 'random', seed: 42 });
    assert.deepEqual(await planWeights(card, { weights: 'random', seed: 7, includeTop: true, cacheDir: cache }), { kind: 'random', seed: 7 });
    await assert.rejects(planWeights(card, { alpha: 0.5, includeTop: true, cacheDir: cache }), /No imagenet weights for mobilenet_0\.25 with that --alpha\/--input-size/);
    await assert.rejects(planWeights(card, { weights: path.join(cache, 'absent.h5'), includeTop: true }), /Weights file not found: .*absent\.h5/);
  });

  test('weightsFormatOf and the mirror', () => {
    assert.equal(weightsFormatOf('x/y.h5'), 'keras-h5');
    assert.equal(weightsFormatOf('http://127.0.0.1:9/m/model.json'), 'tfjs-layers');
    assert.equal(weightsFormatOf(cache), 'tfjs-layers');
    assert.throws(() => weightsFormatOf('m.keras'), /Keras 3 \.keras \(zip\) format is not supported/);
    assert.throws(() => weightsFormatOf('m.bin'), /Cannot tell the format of m\.bin/);
    assert.equal(sourceUrl('https://storage.googleapis.com/a/b.h5?x=1', {}), 'https://storage.googleapis.com/a/b.h5?x=1');
    assert.equal(sourceUrl('https://storage.googleapis.com/a/b.h5?x=1', { BACKBONES_WEIGHTS_MIRROR: 'http://127.0.0.1:9/' }), 'http://127.0.0.1:9/a/b.h5?x=1');
  });
});
