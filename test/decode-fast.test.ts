// --decode fast: JPEG/WebP really shrink on load (the decoded size, not a timing), other
// formats and small photos decode in full, and on the real photos with the real
// MobileNet 0.25 the predictions and features stay close to --decode exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeImage, fastDecodeDenom, shrinkOnLoadSize } from '../src/images/index.js';
import { expandInputs } from '../src/images/inputs.js';
import { DEFAULT_EXTENSIONS } from '../src/images/formats.js';
import { loadRealMobilenet, measureAgreement, nativeCrops, summarizeAgreement } from '../bench/decode-agreement.js';
import { DATA_DIR, IMAGES, MODELS, skipWithoutData } from './helpers/data.js';

const skip = skipWithoutData();
const MIN = { minWidth: 448, minHeight: 448 };

test('fast decoding DCT-scales big JPEGs by the largest of 1/8, 1/4, 1/2 that stays at least 2x the input, and leaves PNGs and small photos whole', { skip }, async () => {
  // 5120x2880: 1/8 gives 640x360 (under 448), 1/4 gives 1280x720.
  const forest = await decodeImage(IMAGES('forest_path_5120x2880__plasma_SafeLanding.jpg'), { shrinkOnLoad: MIN });
  assert.deepEqual([forest.width, forest.height], [1280, 720]);
  assert.deepEqual([forest.source.width, forest.source.height], [5120, 2880]);
  assert.equal(fastDecodeDenom({ format: 'jpeg', width: 5120, height: 2880, orientation: null, pages: 1 }, MIN), 4);
  const plan = shrinkOnLoadSize({ format: 'jpeg', width: 5120, height: 2880, orientation: null, pages: 1 }, MIN);
  assert.deepEqual(plan, { width: 1280, height: 720 });
  // Sides round up as libjpeg's do: 4001 / 8 = 500.1 -> 501.
  assert.deepEqual(shrinkOnLoadSize({ format: 'jpeg', width: 4001, height: 3585, orientation: null, pages: 1 }, MIN), { width: 501, height: 449 });
  assert.equal(fastDecodeDenom({ format: 'jpeg', width: 4000, height: 3000, orientation: null, pages: 1 }, { minWidth: 224, minHeight: 224 }), 8);
  const png = await decodeImage(IMAGES('daisies_pink_alpha__libjxl_flower_alpha.png'), { shrinkOnLoad: MIN });
  assert.deepEqual([png.width, png.height], [2268, 1512], 'PNG has no shrink-on-load');
  const small = await decodeImage(IMAGES('samoyeds_two_under_tree__forensics.jpg'), { shrinkOnLoad: MIN });
  assert.deepEqual([small.width, small.height], [1024, 768], 'less than 2x to gain: decoded whole');
  // EXIF orientation 6 swaps the axes before the minimum applies.
  const tall = { minWidth: 700, minHeight: 900 };
  assert.deepEqual(shrinkOnLoadSize({ format: 'jpeg', width: 4000, height: 3000, orientation: 6, pages: 1 }, tall), { width: 750, height: 1000 });
  assert.deepEqual(shrinkOnLoadSize({ format: 'jpeg', width: 4000, height: 3000, orientation: null, pages: 1 }, tall), { width: 2000, height: 1500 });
  const webp = shrinkOnLoadSize({ format: 'webp', width: 4000, height: 3000, orientation: null, pages: 1 }, MIN);
  assert.deepEqual(webp, { width: 1000, height: 750 });
  assert.equal(shrinkOnLoadSize({ format: 'png', width: 4000, height: 3000, orientation: null, pages: 1 }, MIN), null);
});

test('fast vs exact on the real photos with the real MobileNet 0.25: top-1 agreement and feature cosine', { skip, timeout: 120_000 }, async () => {
  const files = (await expandInputs([path.join(DATA_DIR, 'images')], { extensions: DEFAULT_EXTENSIONS })).map((e) => e.path);
  const backbone = await loadRealMobilenet(MODELS('mobilenet_v1_0.25_224'));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'bb-crops-'));
  try {
    const folder = summarizeAgreement(await measureAgreement(backbone, files));
    assert.equal(folder.photos, 26, 'every decodable photo');
    assert.equal(folder.shrunk, 5, 'the five JPEGs bigger than 896 px on both axes');
    assert.ok(folder.top1Agreement >= 0.95, `top-1 agreement ${folder.top1Agreement}`);
    assert.ok(folder.meanCosine >= 0.99, `mean cosine ${folder.meanCosine}`);
    // Native-resolution crops of the big photos: every one shrinks, so this is the cost itself.
    const crops = summarizeAgreement(await measureAgreement(backbone, await nativeCrops(files, tmp)));
    assert.equal(crops.shrunk, crops.photos);
    assert.ok(crops.photos >= 16);
    assert.ok(crops.top1Agreement >= 0.85, `crops top-1 agreement ${crops.top1Agreement}`);
    assert.ok(crops.meanCosine >= 0.98, `crops mean cosine ${crops.meanCosine}`);
    assert.ok(crops.minCosine < 1, 'fast decoding changes the pixels of shrunk photos');
  } finally {
    backbone.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
});
