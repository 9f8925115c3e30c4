// What `--decode fast` costs in accuracy: for each photo, the real MobileNet 0.25
// (../shared/data/models/mobilenet_v1_0.25_224) classifies and embeds the `exact` and
// the `fast` decode; reported: top-1 agreement and the cosine similarity of the
// features (global_average_pooling2d_1). test/decode-fast.test.ts asserts the bounds.
//
//   npx tsx bench/decode-agreement.ts [DIR]      (default ../shared/data/images + crops)
//
// Photos under 2x the input size on both axes are not shrunk by `fast` (identical by
// construction), so the report counts the photos that actually shrank apart. Besides
// the folder, it uses native-resolution crops of its large photos (real camera pixels
// at phone-like sizes, not upscaled), written to a temp folder.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { tf } from '../src/tf.js';
import { startEngine } from '../src/engines/select.js';
import { loadBackbone } from '../src/zoo/load.js';
import type { Backbone } from '../src/zoo/backbone.js';
import { loadImageForModel, shrinkOnLoadSize, FAST_DECODE_MARGIN, type DecodeMode } from '../src/images/index.js';
import { expandInputs } from '../src/images/inputs.js';
import { DEFAULT_EXTENSIONS } from '../src/images/formats.js';

export interface PhotoAgreement {
  path: string;
  /** Whether `fast` shrank this photo on load (otherwise both decodes are the same). */
  shrunk: boolean;
  top1Exact: number;
  top1Fast: number;
  cosine: number;
}

export interface AgreementSummary {
  photos: number;
  shrunk: number;
  top1Agreement: number;
  meanCosine: number;
  minCosine: number;
  /** The same over the photos that shrank only. */
  shrunkTop1Agreement: number | null;
  shrunkMeanCosine: number | null;
}

const FEATURE_LAYER = 'global_average_pooling2d_1';

async function outputs(backbone: Backbone, file: string, decode: DecodeMode): Promise<{ top1: number; features: Float32Array }> {
  const info = backbone.info;
  const img = await loadImageForModel(file, { size: info.inputSize, preprocess: info.preprocess, resize: info.resize, interpolation: info.interpolation, decode });
  const batch = tf.tensor4d(img.input, [1, info.inputSize[0], info.inputSize[1], 3]);
  try {
    const probs = await backbone.probabilities(batch);
    const top1 = (await probs.argMax(1).data())[0]!;
    probs.dispose();
    const feats = await backbone.features(batch, FEATURE_LAYER);
    const features = (await feats.data()) as Float32Array;
    feats.dispose();
    return { top1, features };
  } finally {
    batch.dispose();
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? (na === nb ? 1 : 0) : dot / Math.sqrt(na * nb);
}

export async function measureAgreement(backbone: Backbone, files: string[]): Promise<PhotoAgreement[]> {
  const [h, w] = backbone.info.inputSize;
  const out: PhotoAgreement[] = [];
  for (const file of files) {
    let exact;
    try {
      exact = await outputs(backbone, file, 'exact');
    } catch {
      continue; // undecodable files (the truncated JPEG) are not part of the figure
    }
    const fast = await outputs(backbone, file, 'fast');
    const meta = await sharp(file).metadata();
    const shrunk =
      shrinkOnLoadSize(
        { format: meta.format ?? '', width: meta.width ?? 0, height: meta.pageHeight ?? meta.height ?? 0, orientation: meta.orientation ?? null, pages: meta.pages ?? 1 },
        { minWidth: FAST_DECODE_MARGIN * w, minHeight: FAST_DECODE_MARGIN * h },
      ) !== null;
    out.push({ path: file, shrunk, top1Exact: exact.top1, top1Fast: fast.top1, cosine: cosine(exact.features, fast.features) });
  }
  return out;
}

export function summarizeAgreement(rows: PhotoAgreement[]): AgreementSummary {
  const agree = (rs: PhotoAgreement[]) => rs.filter((r) => r.top1Exact === r.top1Fast).length / rs.length;
  const mean = (rs: PhotoAgreement[]) => rs.reduce((s, r) => s + r.cosine, 0) / rs.length;
  const shrunk = rows.filter((r) => r.shrunk);
  return {
    photos: rows.length,
    shrunk: shrunk.length,
    top1Agreement: agree(rows),
    meanCosine: mean(rows),
    minCosine: Math.min(...rows.map((r) => r.cosine)),
    shrunkTop1Agreement: shrunk.length > 0 ? agree(shrunk) : null,
    shrunkMeanCosine: shrunk.length > 0 ? mean(shrunk) : null,
  };
}

/** Native-resolution crops of the folder's photos that are at least `minSide` on both axes. */
export async function nativeCrops(files: string[], dir: string, minSide = 1000): Promise<string[]> {
  const made: string[] = [];
  for (const file of files) {
    let meta;
    try {
      meta = await sharp(file).metadata();
    } catch {
      continue;
    }
    const W = meta.width ?? 0;
    const H = meta.height ?? 0;
    if (meta.format !== 'jpeg' || W < minSide || H < minSide) continue;
    // Four windows: two corners at 60 % and two centred at 75 % and 90 % of each side.
    const windows: [number, number, number][] = [
      [0, 0, 0.6],
      [1, 1, 0.6],
      [0.5, 0.5, 0.75],
      [0.5, 0.5, 0.9],
    ];
    for (const [i, [fx, fy, f]] of windows.entries()) {
      const width = Math.round(W * f);
      const height = Math.round(H * f);
      const left = Math.round((W - width) * fx);
      const top = Math.round((H - height) * fy);
      const out = path.join(dir, `${path.basename(file, path.extname(file))}_crop${i}.jpg`);
      await sharp(file).extract({ left, top, width, height }).jpeg({ quality: 92 }).toFile(out);
      made.push(out);
    }
  }
  return made;
}

export async function loadRealMobilenet(modelDir: string): Promise<Backbone> {
  const engine = await startEngine({ backend: process.env.BACKBONES_BACKEND ?? 'auto' });
  return loadBackbone(modelDir, { allowDownload: false, engine });
}

async function main(): Promise<void> {
  const data = path.resolve(process.env.BACKBONES_TEST_DATA ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'data'));
  const dir = process.argv[2] ?? path.join(data, 'images');
  const files = (await expandInputs([dir], { extensions: DEFAULT_EXTENSIONS })).map((e) => e.path);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'fast-crops-'));
  try {
    const crops = await nativeCrops(files, tmp);
    const backbone = await loadRealMobilenet(path.join(data, 'models', 'mobilenet_v1_0.25_224'));
    for (const [label, set] of [
      ['folder', files],
      ['native crops', crops],
    ] as const) {
      const rows = await measureAgreement(backbone, set);
      for (const r of rows) console.log(`${r.shrunk ? 'S' : ' '} ${r.top1Exact === r.top1Fast ? '=' : 'x'} cos ${r.cosine.toFixed(5)} ${path.basename(r.path)}`);
      console.log(label, JSON.stringify(summarizeAgreement(rows)));
    }
    backbone.dispose();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
