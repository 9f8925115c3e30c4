// Dedup quality on planted duplicates (issue 23): every decodable photo of
// ../shared/data/images plus its 6 variants (test/helpers/planted.ts: ½ size, JPEG q30,
// centre crop 85 %, horizontal flip, brightness +20 %, 5 % border), features from each
// backbone that has real weights here, and pair-level precision / recall / F1 per
// cosine threshold (a pair is a true duplicate when both images come from the same
// scene). imagededup's CNN default is MobileNet with cosine 0.9: its row is marked.
//   npx tsx bench/dedup-quality.ts [--out FILE.json]
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEngine } from '../src/engines/select.js';
import { resolveSpec } from '../src/spec/spec.js';
import { imageSettingsOf, loadForSpec } from '../src/spec/load.js';
import { vectorsOf } from '../src/actions/spec-model.js';
import { normalizeRows } from '../src/search/dedup.js';
import { plantVariants } from '../test/helpers/planted.js';
import { DATA_DIR } from '../test/helpers/data.js';

// Files of the shared folder that show the same scene (the same photo in another encoding).
const SCENES: Record<string, string> = {
  'speakers_stage_cmyk__go_video001.jpeg': 'speakers',
  'speakers_stage_rgb__go_video001.jpeg': 'speakers',
  'speakers_stage_16bit__goximage_video001.tiff': 'speakers',
  'yellow_rose_lossy__goximage.webp': 'rose',
  'yellow_rose_alpha__goximage.webp': 'rose',
};

// The nsfwjs models run as model files (their own head); features: the last conv block, average-pooled.
const MODELS: { label: string; model: string; weights?: string; layer?: string; pool?: 'avg' }[] = [
  { label: 'mobilenet_0.25 (Google ImageNet weights)', model: 'mobilenet_0.25', weights: path.join(DATA_DIR, 'models/mobilenet_v1_0.25_224/model.json') },
  { label: 'MobileNetV2 (nsfwjs fine-tuned model)', model: path.join(DATA_DIR, 'models/nsfwjs_mobilenet_v2/model.json'), layer: 'out_relu', pool: 'avg' },
  { label: 'InceptionV3 (nsfwjs fine-tuned model)', model: path.join(DATA_DIR, 'models/nsfwjs_inception_v3/model.json'), layer: 'mixed10', pool: 'avg' },
];

const THRESHOLDS = Array.from({ length: 31 }, (_, i) => Math.round((0.7 + i * 0.01) * 100) / 100);

async function main() {
  const outArg = process.argv.indexOf('--out');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-dedup-quality-'));
  try {
    const photos = readdirSync(path.join(DATA_DIR, 'images'))
      .filter((f) => !f.startsWith('truncated'))
      .sort();
    const images: { path: string; scene: string }[] = [];
    for (const f of photos) {
      const src = path.join(DATA_DIR, 'images', f);
      const scene = SCENES[f] ?? f;
      images.push({ path: src, scene });
      for (const v of await plantVariants(src, dir)) images.push({ path: v, scene });
    }
    const n = images.length;
    let positives = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (images[i]!.scene === images[j]!.scene) positives += 1;
    console.error(`${photos.length} photos + ${n - photos.length} planted variants = ${n} images, ${positives} duplicate pairs of ${(n * (n - 1)) / 2}`);
    const results = [];
    for (const m of MODELS) {
      const spec = await resolveSpec({ model: m.model, weights: m.weights, ...(m.weights ? {} : { preprocess: 'unit' as const }), backend: 'onnx', device: 'cpu' });
      const backbone = await loadForSpec(spec, await startEngine(spec.engine));
      const layer = m.layer ?? backbone.info.featureLayer!;
      const settings = imageSettingsOf(spec, backbone.info);
      const vecs = await vectorsOf({ backbone, settings, task: { kind: 'extract', layer, pool: m.pool ?? 'none', l2: false } }, images.map((i) => ({ path: i.path })));
      backbone.dispose();
      const failed = vecs.filter((v) => 'error' in v);
      if (failed.length > 0) throw new Error(`${failed.length} images failed: ${JSON.stringify(failed[0])}`);
      const dim = (vecs[0] as { vector: Float32Array }).vector.length;
      const flat = new Float32Array(n * dim);
      vecs.forEach((v, i) => flat.set((v as { vector: Float32Array }).vector, i * dim));
      const unit = normalizeRows(flat, dim);
      const sims: { s: number; same: boolean }[] = [];
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          let s = 0;
          for (let k = 0; k < dim; k++) s += unit[i * dim + k]! * unit[j * dim + k]!;
          sims.push({ s, same: images[i]!.scene === images[j]!.scene });
        }
      }
      const rows = THRESHOLDS.map((t) => {
        let tp = 0;
        let fp = 0;
        for (const p of sims) if (p.s >= t) p.same ? (tp += 1) : (fp += 1);
        const precision = tp + fp > 0 ? tp / (tp + fp) : 1;
        const recall = tp / positives;
        const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
        return { threshold: t, tp, fp, fn: positives - tp, precision, recall, f1 };
      });
      const best = rows.reduce((b, r) => (r.f1 > b.f1 + 1e-12 || (Math.abs(r.f1 - b.f1) <= 1e-12 && r.precision > b.precision) ? r : b));
      // Which variants are hardest: the lowest similarity of each variant kind to its original.
      results.push({ model: m.label, layer: m.pool ? `${layer} ${m.pool}-pooled` : layer, dim, best, rows });
      console.error(`${m.label} ${layer} (${dim}-d): best F1 ${best.f1.toFixed(3)} at ${best.threshold} (P ${best.precision.toFixed(3)}, R ${best.recall.toFixed(3)}); at 0.9: ${JSON.stringify(rows.find((r) => r.threshold === 0.9))}`);
    }
    const report = { images: n, photos: photos.length, duplicatePairs: positives, results };
    if (outArg > 0) writeFileSync(process.argv[outArg + 1]!, JSON.stringify(report, null, 2));
    // Markdown: every other threshold from 0.70, plus 0.9 (imagededup's default).
    for (const r of results) {
      console.log(`\n${r.model}, layer ${r.layer} (${r.dim}-d); best F1 at ${r.best.threshold}\n`);
      console.log('| threshold | precision | recall | F1 | true pairs found | false pairs |\n| ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const row of r.rows.filter((x) => Math.round(x.threshold * 100) % 2 === 0 || x.threshold === r.best.threshold || x.threshold === 0.9)) {
        const mark = row.threshold === 0.9 ? ' (imagededup default)' : row.threshold === r.best.threshold ? ' (best F1)' : '';
        console.log(`| ${row.threshold.toFixed(2)}${mark} | ${row.precision.toFixed(3)} | ${row.recall.toFixed(3)} | ${row.f1.toFixed(3)} | ${row.tp} | ${row.fp} |`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
