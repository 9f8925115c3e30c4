// The decode pool and the prefetch queue: input order, one record per input with
// failing files mixed in, identical vectors whatever the number of decode threads,
// the thread-count rule, and the CLI options (--decode-threads, --verbose, --resume).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { emptyPipelineStats, runBatches, type ImageSettings } from '../src/pipeline/batches.js';
import { startDecodePool } from '../src/pipeline/decode-pool.js';
import { defaultDecodeThreads, threadPlan } from '../src/pipeline/decode-threads.js';
import { estimateImageBytes } from '../src/pipeline/budget.js';
import { stageLine, stageReport } from '../src/pipeline/stages.js';
import { inThreadLoader, type ImageLoader } from '../src/pipeline/loaders.js';
import type { InputEntry } from '../src/images/inputs.js';
import { readCounts, readSourceInfo } from '../src/images/index.js';
import { startEngine } from '../src/engines/select.js';
import { loadBackbone } from '../src/zoo/load.js';
import { extractBatch } from '../src/tasks/extract.js';
import type { Backbone } from '../src/zoo/backbone.js';
import { tf } from '../src/tf.js';
import { runCli } from './helpers/cli.js';
import { parseJsonl } from './helpers/cache.js';
import { IMAGES, MODELS, DATA_DIR, skipWithoutData } from './helpers/data.js';

const skip = skipWithoutData();
const PHOTOS = [
  'apple_red__opencv.jpg',
  'cat_tabby_chelsea__skimage.png',
  'forest_path_5120x2880__plasma_SafeLanding.jpg',
  'yellow_rose_lossy__goximage.webp',
  'railway_city_view__forensics.jpg',
  'daisies_pink_alpha__libjxl_flower_alpha.png',
  'speakers_stage_cmyk__go_video001.jpeg',
  'colorful_cups__plasma_ColorfulCups.jpg',
];

/** Real photos with failures mixed in: a truncated JPEG, a text file, a missing file, an entry that failed expansion. */
function mixedEntries(dir: string): InputEntry[] {
  const notImage = path.join(dir, 'notes.jpg');
  writeFileSync(notImage, 'not an image');
  const bad: InputEntry[] = [
    { path: IMAGES('truncated__skimage.jpg') },
    { path: notImage },
    { path: path.join(dir, 'missing.png') },
    { path: path.join(dir, 'loop'), error: 'symlink loop' },
  ];
  const out: InputEntry[] = [];
  for (let i = 0; i < 3; i++) {
    for (const [k, p] of PHOTOS.entries()) {
      out.push({ path: IMAGES(p) });
      if (k % 2 === 1) out.push(bad[(i + k) % bad.length]!);
    }
  }
  return out;
}

async function run(backbone: Backbone, entries: InputEntry[], settings: ImageSettings, loader: ImageLoader | undefined, batchSize: number) {
  const records: { path: string; error?: string; vector?: Float32Array }[] = [];
  const stats = await runBatches(
    entries,
    settings,
    batchSize,
    (b: tf.Tensor4D) => extractBatch(backbone, b, 'global_average_pooling2d_1', 'none', false),
    (item, result) => void records.push(result ? { path: item.path, vector: Float32Array.from(result.vector) } : { path: item.path, error: item.error }),
    { loader },
  );
  return { records, stats };
}

test('several decode threads: every input once, in input order, failures as records; vectors byte-identical to 1 thread and to the main thread', { skip }, async () => {
  const engine = await startEngine({ backend: 'onnx', device: 'cpu' });
  const backbone = await loadBackbone(MODELS('mobilenet_v1_0.25_224'), { preprocess: 'tf', engine });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-pool-'));
  const entries = mixedEntries(dir);
  const settings: ImageSettings = { size: backbone.info.inputSize, preprocess: 'tf', decode: 'exact' };
  const inThread = await run(backbone, entries, settings, undefined, 3);
  const one = await startDecodePool(1, settings);
  const three = await startDecodePool(3, settings);
  try {
    const single = await run(backbone, entries, settings, one, 3);
    const multi = await run(backbone, entries, settings, three, 5);
    assert.equal(multi.stats.decodeThreads, 3);
    for (const r of [inThread, single, multi]) {
      assert.deepEqual(r.records.map((x) => x.path), entries.map((e) => e.path), 'one record per input, in input order');
      assert.equal(r.stats.images, entries.length);
    }
    const failed = multi.records.filter((r) => r.error);
    assert.equal(failed.length, entries.length - 3 * PHOTOS.length);
    assert.equal(multi.stats.failed, failed.length);
    assert.ok(failed.every((r) => !PHOTOS.includes(path.basename(r.path))), 'only the bad files fail');
    assert.match(failed.find((r) => r.path.endsWith('truncated__skimage.jpg'))!.error!, /damaged or truncated/);
    assert.match(failed.find((r) => r.path.endsWith('missing.png'))!.error!, /Cannot read/);
    assert.equal(failed.find((r) => r.path.endsWith('loop'))!.error, 'symlink loop');
    const bytes = (r: { vector?: Float32Array }) => (r.vector ? Buffer.from(r.vector.buffer).toString('base64') : 'error');
    assert.deepEqual(multi.records.map(bytes), inThread.records.map(bytes), '3 threads = main thread, bit for bit');
    assert.deepEqual(single.records.map(bytes), inThread.records.map(bytes), '1 thread = main thread, bit for bit');
    // The stage report adds up what the run did.
    const report = stageReport(multi.stats);
    assert.ok(report.decodeMsPerImage! > 0 && report.inferenceMsPerImage! > 0);
    assert.ok(['decode', 'preprocess', 'inference'].includes(report.limitingStage!));
    assert.ok(multi.stats.peakPrefetchBytes > 0 && multi.stats.peakPrefetchBytes <= multi.stats.prefetchBudgetBytes);
    // --decode fast is deterministic too: same vectors with 1 and 3 threads.
    const fast: ImageSettings = { ...settings, decode: 'fast' };
    const fastOne = await startDecodePool(1, fast);
    const fastThree = await startDecodePool(3, fast);
    try {
      const a = await run(backbone, entries, fast, fastOne, 4);
      const b = await run(backbone, entries, fast, fastThree, 4);
      assert.deepEqual(a.records.map(bytes), b.records.map(bytes));
      const forest = (r: typeof a) => bytes(r.records.find((x) => x.path.includes('forest_path'))!);
      assert.notEqual(forest(a), forest(inThread), 'fast decoding of the 5120x2880 JPEG differs from exact');
    } finally {
      await fastOne.close();
      await fastThree.close();
    }
  } finally {
    await one.close();
    await three.close();
    backbone.dispose();
  }
});

test('each image: its header read once (by the prefetch budget, handed to the decoder) and decoded once', { skip }, async () => {
  const settings: ImageSettings = { size: [224, 224], preprocess: 'tf' };
  // Readable photos of every kind the decoders take: plain, progressive + ICC, CMYK, EXIF-rotated, PNG, WebP.
  const files = [...PHOTOS, 'orientation_6_letter_F__imaging.jpg', 'daisies_gray__libjxl_flower_q85_gray.jpg'];
  const entries: InputEntry[] = files.map((f) => ({ path: IMAGES(f) }));
  for (const decode of ['exact', 'fast'] as const) {
    const before = { ...readCounts };
    const stats = await runBatches(entries, { ...settings, decode }, 4, async (b) => new Array<number>(b.shape[0]).fill(0), () => {});
    assert.equal(stats.failed, 0);
    assert.equal(readCounts.headers - before.headers, files.length, `${decode}: header reads`);
    assert.equal(readCounts.decodes - before.decodes, files.length, `${decode}: decodes`);
  }
  // In a decode thread too: its counts come back with each item (one at a time, so each count is that item's).
  const pool = await startDecodePool(1, settings);
  try {
    const items = [];
    for (const e of entries) items.push(await pool.load({ ...e, header: (await readSourceInfo(e.path))! }));
    assert.ok(items.every((i) => i.input && i.reads?.headers === 0 && i.reads.decodes === 1), JSON.stringify(items.map((i) => i.reads)));
  } finally {
    await pool.close();
  }
});

test('bytes in memory: a handed-over buffer of their own moves to the decode thread, anything else is copied; same pixels either way', { skip }, async () => {
  const settings: ImageSettings = { size: [96, 96], preprocess: 'tf', decode: 'exact' };
  const pool = await startDecodePool(1, settings);
  try {
    const file = readFileSync(IMAGES('railway_city_view__forensics.jpg'));
    const own = () => new Uint8Array(file); // a buffer of its own, as a request body of this size is
    const a = own();
    const moved = await pool.load({ path: '<buffer>', bytes: a, handOver: true });
    assert.equal(a.byteLength, 0, 'moved: the caller is left an empty view');
    const b = own();
    const copied = await pool.load({ path: '<buffer>', bytes: b });
    assert.equal(b.byteLength, file.length, 'not handed over: copied');
    // A view into a bigger buffer (KServe's binary data, a pooled body) is copied even when handed over.
    const shared = new Uint8Array(file.length + 16);
    shared.set(file, 8);
    const view = shared.subarray(8, 8 + file.length);
    const fromView = await pool.load({ path: '<buffer>', bytes: view, handOver: true });
    assert.equal(view.byteLength, file.length);
    assert.equal(shared.byteLength, file.length + 16);
    assert.ok(moved.input && copied.input && fromView.input);
    assert.deepEqual(moved.input, copied.input);
    assert.deepEqual(fromView.input, copied.input);
  } finally {
    await pool.close();
  }
});

test('the prefetch budget: images start in order while their decoded pixels fit; one bigger than the budget runs alone', { skip }, async () => {
  const settings: ImageSettings = { size: [224, 224], preprocess: 'tf' };
  const big = IMAGES('forest_path_5120x2880__plasma_SafeLanding.jpg'); // 44 MB decoded
  const small = IMAGES('apple_red__opencv.jpg'); // 0.8 MB decoded
  const entries: InputEntry[] = Array.from({ length: 12 }, (_, i) => ({ path: i % 3 === 0 ? big : small }));
  const inner = inThreadLoader(settings);
  let inFlight = 0;
  let bigInFlight = 0;
  let maxInFlight = 0;
  let maxBigInFlight = 0;
  let maxBigWithOthers = 0;
  const loader: ImageLoader = {
    ...inner,
    async load(entry) {
      const isBig = entry.path === big;
      inFlight += 1;
      bigInFlight += isBig ? 1 : 0;
      maxInFlight = Math.max(maxInFlight, inFlight);
      maxBigInFlight = Math.max(maxBigInFlight, bigInFlight);
      if (bigInFlight > 0) maxBigWithOthers = Math.max(maxBigWithOthers, inFlight);
      try {
        // Big images stay in flight a while, so that what may overlap does overlap.
        if (isBig) await new Promise((r) => setTimeout(r, 200));
        return await inner.load(entry);
      } finally {
        inFlight -= 1;
        bigInFlight -= isBig ? 1 : 0;
      }
    },
  };
  const order: string[] = [];
  const run = (budgetMb: number) =>
    runBatches(entries, settings, 4, async (b) => new Array<number>(b.shape[0]).fill(0), (item) => void order.push(item.path), { loader, prefetchBytes: budgetMb * 1024 * 1024 });
  // 30 MB: less than one big image, so each big one starts alone.
  const tight = await run(30);
  assert.deepEqual(order, entries.map((e) => e.path));
  assert.equal(maxBigInFlight, 1);
  assert.equal(maxBigWithOthers, 1, 'a big image over the budget has nothing else in flight');
  assert.ok(tight.peakPrefetchBytes > 30 * 1024 * 1024, 'the lone big image was charged in full');
  // 100 MB: two big images (2 x 44 MB) fit, three do not.
  maxInFlight = maxBigInFlight = maxBigWithOthers = 0;
  const roomy = await run(100);
  assert.equal(maxBigInFlight, 2);
  assert.ok(roomy.peakPrefetchBytes <= 100 * 1024 * 1024, `charged ${roomy.peakPrefetchBytes}`);
  assert.ok(maxInFlight > 2);
});

test('decode threads: every core (beside a CPU engine as beside a GPU engine), never 0', () => {
  assert.equal(defaultDecodeThreads(2), 2);
  assert.equal(defaultDecodeThreads(16), 16);
  assert.equal(defaultDecodeThreads(1), 1);
  assert.equal(defaultDecodeThreads(0), 1);
});

test('threads sized together: engine every core (idle threads do not spin), decode every core, one libvips thread per image in a decode thread', () => {
  assert.deepEqual(threadPlan({ cores: 2 }), { engineThreads: 2, decodeThreads: 2, libvipsThreads: 1 });
  assert.deepEqual(threadPlan({ cores: 16 }), { engineThreads: 16, decodeThreads: 16, libvipsThreads: 1 });
  assert.deepEqual(threadPlan({ cores: 1 }), { engineThreads: 1, decodeThreads: 1, libvipsThreads: 1 });
  // Decoding in the main thread: libvips is the only parallelism, so it gets every core.
  assert.deepEqual(threadPlan({ cores: 8, decodeThreads: 0 }), { engineThreads: 8, decodeThreads: 0, libvipsThreads: 8 });
  // What the user asked for is kept.
  assert.deepEqual(threadPlan({ cores: 8, engineThreads: 3, decodeThreads: 5 }), { engineThreads: 3, decodeThreads: 5, libvipsThreads: 1 });
});

test('the stage report: nothing claimed before the engine ran a batch; decode per image in CPU time (pool CPU less preprocess)', () => {
  // Images decoded, the engine waited, no batch run yet: no limit is claimed.
  const s = { ...emptyPipelineStats(), images: 0, decoded: 8, decodeMs: 800, resizeMs: 40, preprocessMs: 40, preprocessCpuMs: 60, preprocessCpuImages: 8, waitMs: 500, wallMs: 600, decodeThreads: 1, poolCpuMs: 400 };
  assert.equal(stageReport(s).limitingStage, null);
  assert.doesNotMatch(stageLine(s), /limited by/);
  // Per image: wall 100 ms in the thread, but CPU (400 - 60) / 8 = 42.5 ms; preprocess 60 / 8 = 7.5 ms CPU.
  const r = stageReport({ ...s, images: 8, batches: 1, inferenceMs: 100 });
  assert.equal(r.decodeMsPerImage, 100);
  assert.equal(r.decodeCpuMsPerImage, 42.5);
  assert.equal(r.preprocessCpuMsPerImage, 7.5);
  assert.equal(r.limitingStage, 'decode');
  assert.match(stageLine({ ...s, images: 8, batches: 1, inferenceMs: 100 }), /decode 42\.5 ms CPU, preprocess 7\.5 ms CPU .* limited by decode/);
  // Not measurable (decoding in the main thread): the wall time, said to be one.
  const main = { ...s, images: 8, batches: 1, inferenceMs: 700, decodeThreads: 0, poolCpuMs: null };
  assert.equal(stageReport(main).decodeCpuMsPerImage, null);
  assert.match(stageLine(main), /decode 100\.0 ms wall, .* limited by inference/);
});

test('the memory charged for an image: its decoded pixels, less when fast shrinks it on load, at least the model input', () => {
  const settings: ImageSettings = { size: [224, 224], preprocess: 'tf' };
  const header = { format: 'jpeg', width: 4000, height: 3000, channels: 3, depth: 'uchar', space: 'srgb', orientation: null, pages: 1, progressive: false };
  const input = 224 * 224 * 3 * 4 * 2;
  assert.equal(estimateImageBytes(header, settings), 4000 * 3000 * 3 + input);
  const fast = estimateImageBytes(header, { ...settings, decode: 'fast' });
  assert.ok(fast < (4000 * 3000 * 3) / 8, `fast charges a fraction: ${fast}`);
  assert.equal(estimateImageBytes(null, settings), input);
  assert.equal(estimateImageBytes({ ...header, format: 'png', width: 16000, height: 16000 }, { ...settings, decode: 'fast' }), 16000 * 16000 * 3 + input, 'PNG never shrinks on load');
  assert.ok(estimateImageBytes({ ...header, progressive: true }, settings) > estimateImageBytes(header, settings), 'progressive JPEG holds its coefficients');
});

test('CLI: --decode-threads 2 --verbose gives the rate and the limiting stage; --resume with the pool; --decode fast with --keras-compat is bad usage', { skip }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-pool-cli-'));
  const out = path.join(dir, 'f.jsonl');
  const model = ['-m', MODELS('mobilenet_v1_0.25_224'), '--layer', 'global_average_pooling2d_1', '--preprocess', 'tf'];
  const images = path.join(DATA_DIR, 'images');
  const r = await runCli(['extract', images, ...model, '--decode-threads', '2', '--verbose', '-o', out]);
  assert.equal(r.code, 3, r.stderr); // the truncated JPEG
  assert.match(r.stderr, /\d+ of 27 images done in [\d.]+ s \([\d.]+ img\/s\)/);
  assert.match(r.stderr, /per image: decode [\d.]+ ms CPU, preprocess [\d.]+ ms CPU \(2 decode threads, pool CPU (\d+ %|n\/a)\); inference [\d.]+ ms; engine waited \d+ % of the time → limited by (decode|preprocess|inference)/);
  const full = parseJsonl(readFileSync(out, 'utf8'));
  assert.equal(full.length, 27);
  // A run cut after 10 records, resumed with the pool: the same file as one whole run.
  const cut = path.join(dir, 'cut.jsonl');
  writeFileSync(cut, readFileSync(out, 'utf8').split('\n').slice(0, 10).join('\n') + '\n{"path":"torn');
  writeFileSync(`${cut}.spec.json`, readFileSync(`${out}.spec.json`)); // how its rows were made, as a killed run leaves it
  const resumed = await runCli(['extract', images, ...model, '--decode-threads', '3', '-o', cut, '--resume']);
  assert.equal(resumed.code, 3, resumed.stderr);
  assert.match(resumed.stderr, /Resuming: 10 inputs already/);
  // Every input once, in the same order, nothing torn; the vectors agree to float32 rounding only:
  // after the resume the images sit in other batches (8, 8, 1 instead of 8, 8, 8, 3), and ONNX
  // Runtime's kernels may round a batch of another size differently (seen once in a full CI run).
  const [whole, again] = [out, cut].map((f) => parseJsonl(readFileSync(f, 'utf8')) as { path: string; vector?: number[]; error?: string }[]);
  assert.deepEqual(again.map((r) => [r.path, r.error ?? null]), whole.map((r) => [r.path, r.error ?? null]));
  whole.forEach((r, i) => {
    if (!r.vector) return;
    const worst = Math.max(...r.vector.map((v, j) => Math.abs(v - again[i]!.vector![j]!) / Math.max(1, Math.abs(v))));
    assert.ok(worst <= 1e-5, `${r.path}: differs by ${worst}`);
  });
  const bad = await runCli(['classify', IMAGES('apple_red__opencv.jpg'), '-m', MODELS('mobilenet_v1_0.25_224'), '--decode', 'fast', '--keras-compat']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--decode fast cannot be combined with --keras-compat/);
  const badThreads = await runCli(['classify', IMAGES('apple_red__opencv.jpg'), '--decode-threads', '-1']);
  assert.equal(badThreads.code, 2);
});
