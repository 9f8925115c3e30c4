// `backbones models list|info|pull|path`: prints what the zoo registry and the cache
// hold; no logic of its own beyond formatting.
import type { Int8Evaluation } from '../onnx/quantize/evaluate.js';
import type { Int8Sidecar } from '../onnx/quantize/cache.js';
import type { Fp16Sidecar } from '../onnx/fp16-evaluate.js';
import { BackbonesError, EXIT } from '../errors.js';
import { log, out, plural } from '../log.js';
import { listModels, getCard, findCard } from '../zoo/registry.js';
import { resolveCacheDir } from '../weights/cache.js';
import { locateImagenet, pullSource, sourcesWithStatus } from '../weights/resolve.js';
import type { SpecOptions } from '../spec/types.js';

interface CommonOptions extends Pick<SpecOptions, 'cacheDir'> {
  /** --format: text (or a table) for people, or json. */
  format?: string;
}

const fmtParams = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : `${(n / 1e3).toFixed(0)} k`);
const fmtGmacs = (n: number) => (n / 1e9).toFixed(2);

function pad(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  // Widths from the text without colour codes.
  const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
  const widths = header.map((_, i) => Math.max(...all.map((r) => plain(r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c + ' '.repeat(widths[i]! - plain(c).length)).join('  ').trimEnd();
  return [out.bold(line(header)), ...rows.map(line)].join('\n') + '\n';
}

export async function runModelsList(filter: string | undefined, o: CommonOptions): Promise<number> {
  const cacheDir = resolveCacheDir(o.cacheDir);
  const names = listModels(filter);
  if (names.length === 0) throw new BackbonesError('E_UNKNOWN_MODEL', `No model matches "${filter}"; \`backbones models list\` shows them all.`);
  const rows = await Promise.all(
    names.map(async (name) => {
      const card = getCard(name);
      const sources = await sourcesWithStatus(card, cacheDir);
      return { card, cached: sources.some((s) => s.cached && s.includeTop) || sources.some((s) => s.cached) };
    }),
  );
  if (o.format === 'json') {
    process.stdout.write(
      JSON.stringify(
        rows.map(({ card, cached }) => ({
          name: card.name,
          inputSize: card.inputSize,
          parameters: card.parameters,
          macs: card.macs,
          featureLayer: card.featureLayer,
          featureDim: card.featureDim,
          preprocess: card.preprocess,
          top1: card.top1,
          top5: card.top5,
          weightsCached: cached,
        })),
        null,
        2,
      ) + '\n',
    );
    return EXIT.ok;
  }
  process.stdout.write(
    pad(
      rows.map(({ card, cached }) => [
        out.bold(card.name),
        card.inputSize.join('x'),
        fmtParams(card.parameters),
        fmtGmacs(card.macs),
        `${card.featureLayer} (${card.featureDim})`,
        card.preprocess,
        card.top1 === null ? 'n/a' : `${(card.top1 * 100).toFixed(1)}%`,
        cached ? out.green('cached') : out.dim('not cached'),
      ]),
      ['name', 'input', 'params', 'GMACs', 'feature layer (dim)', 'preprocess', 'top-1', 'weights'],
    ),
  );
  log.info(`cache: ${cacheDir}`);
  return EXIT.ok;
}

export async function runModelsInfo(
  spec: string,
  o: CommonOptions & SpecOptions & { layers?: boolean },
): Promise<number> {
  const cacheDir = resolveCacheDir(o.cacheDir);
  const card = findCard(spec);
  let layers: { name: string; className: string; outputShape: number[] | null; parameters: number }[] | undefined;
  let loaded: { parameters: number; macs: number | null; inputSize: [number, number]; preprocess: string; source: string } | undefined;
  if (o.layers || !card) {
    // Layers need the built network; random weights avoid any download for a zoo name.
    // Layers only need the built network: TensorFlow.js on the CPU, whatever --backend/--device say.
    const { startEngine } = await import('../engines/select.js');
    const { resolveSpec } = await import('../spec/spec.js');
    const { loadForSpec } = await import('../spec/load.js');
    const run = await resolveSpec({
      ...o,
      model: spec,
      weights: card ? 'random' : undefined,
      preprocess: o.preprocess ?? (card ? undefined : 'raw'),
      backend: 'cpu',
      device: 'cpu',
      provider: '',
      precision: 'fp32',
      calibrate: undefined,
      int8Model: undefined,
    });
    const backbone = await loadForSpec(run, await startEngine(run.engine));
    // A model file is loaded to describe it; its layers are listed only when asked for.
    if (o.layers) layers = backbone.layers();
    loaded = { parameters: backbone.info.parameters, macs: backbone.info.macs, inputSize: backbone.info.inputSize, preprocess: backbone.info.preprocess, source: backbone.info.source };
    backbone.dispose();
  }
  const sources = card ? await sourcesWithStatus(card, cacheDir) : [];
  const int8 = await (await import('../onnx/quantize/cache.js')).int8ModelsFor(cacheDir, spec);
  const encodingText = int8.length > 0 ? encodingLine(await import('../onnx/quantize/index.js')) : () => '';
  const fp16 = await (await import('../onnx/fp16-evaluate.js')).fp16ExportsFor(cacheDir, spec);
  if (o.format === 'json') {
    process.stdout.write(JSON.stringify({ ...(card ?? { name: spec, ...loaded }), weights: card ? sources : undefined, int8, fp16, layers }, null, 2) + '\n');
    return EXIT.ok;
  }
  const lines: string[] = [];
  if (card) {
    lines.push(
      out.bold(card.name) + '  ' + card.description,
      `  input          ${card.inputSize.join('x')}x3, ${card.channelOrder}, preprocess ${card.preprocess}, ${card.resize} + ${card.interpolation}`,
      `  parameters     ${card.parameters.toLocaleString('en-US')}`,
      `  multiply-adds  ${card.macs.toLocaleString('en-US')} per image (${fmtGmacs(card.macs)} G)`,
      `  feature layer  ${card.featureLayer} (${card.featureDim})`,
      `  classifier     ${card.classifierLayer} (${card.numClasses} classes, ${card.labels})`,
      `  imagenet       top-1 ${card.top1 === null ? 'n/a' : (card.top1 * 100).toFixed(1) + '%'}, top-5 ${card.top5 === null ? 'n/a' : (card.top5 * 100).toFixed(1) + '%'} (Keras docs)`,
      `  paper          ${card.paper}`,
      `  license        ${card.license}`,
      out.bold('weights'),
      ...sources.map(
        (s) =>
          `  ${s.cached ? out.green('cached    ') : out.dim('not cached')}  ${s.format}${s.includeTop ? '' : ' (no top)'}  ${s.url}\n` +
          `              ${s.hash ? `${s.hashAlgorithm} ${s.hash}` : 'no published checksum'}  → ${s.cachePath}`,
      ),
    );
  } else if (loaded) {
    lines.push(
      out.bold(spec),
      `  format         ${loaded.source}`,
      `  input          ${loaded.inputSize.join('x')}x3`,
      `  parameters     ${loaded.parameters.toLocaleString('en-US')}`,
      `  multiply-adds  ${loaded.macs === null ? 'n/a' : loaded.macs.toLocaleString('en-US')}`,
    );
  }
  if (int8.length > 0) lines.push(out.bold('int8 (cached, newest first)'), ...int8.map((m) => int8Line(m, encodingText)));
  if (fp16.length > 0) lines.push(out.bold('fp16 (cached by `quantize --precision fp16`, newest first)'), ...fp16.map(fp16Line));
  if (layers) {
    lines.push(out.bold('layers') + out.dim('  (name, type, output shape without batch, parameters)'));
    const w = Math.max(...layers.map((l) => l.name.length));
    const cw = Math.max(...layers.map((l) => l.className.length));
    for (const l of layers) {
      lines.push(`  ${l.name.padEnd(w)}  ${l.className.padEnd(cw)}  ${(l.outputShape ? `[${l.outputShape.join(', ')}]` : 'n/a').padEnd(16)}  ${l.parameters || ''}`.trimEnd());
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  return EXIT.ok;
}

/** One cached int8 model: its calibration and, when `quantize --evaluate` measured them, its figures against fp32. */
function int8Line(m: Int8Sidecar & { file: string }, encodingText: (m: Int8Sidecar) => string): string {
  const e = m.evaluation as Int8Evaluation | undefined;
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
  const figures = e
    ? `top-1 agreement ${pct(e.top1Agreement)}, top-5 overlap ${pct(e.top5Overlap)}, feature cosine mean ${e.featureCosineMean?.toFixed(4) ?? 'n/a'} worst ${e.featureCosineWorst?.toFixed(4) ?? 'n/a'}, ${e.speedup.toFixed(2)}x fp32 speed (${e.images} held-out images)`
    : 'not evaluated (run `backbones quantize … --evaluate DIR`)';
  return `  ${m.createdAt.slice(0, 19).replace('T', ' ')}  ${m.weights}\n    calibrated on ${plural(m.calibration.images, 'image')} (${m.calibration.dir}); ${figures}\n    ${encodingText(m)}\n    → ${m.file}`;
}

/** "weight encoding u8 (depthwise s8), made for AVX2 without VNNI (u8 x s8 kernels saturate)". */
function encodingLine(q: Pick<typeof import('../onnx/quantize/index.js'), 'describeCpu' | 'schemeLabel'>): (m: Int8Sidecar) => string {
  return (m) => {
    const e = m.encoding;
    if (!e?.scheme) return 'weight encoding not recorded (made before it was: int8 weights, re-encoded where a CPU needs uint8)';
    return `weight encoding ${q.schemeLabel(e.scheme)}, made for ${e.madeFor ? q.describeCpu(e.madeFor) : 'an unrecorded CPU'}`;
  };
}

/** One cached fp16 export: what stays fp32 and, when `quantize --precision fp16 --evaluate` measured them, its figures. */
function fp16Line(m: Fp16Sidecar & { file: string }): string {
  const e = m.evaluation;
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
  const figures = e
    ? `on ${m.adapter}: top-1 agreement ${pct(e.top1Agreement)}, top-5 overlap ${pct(e.top5Overlap)}, feature cosine mean ${e.featureCosineMean?.toFixed(4) ?? 'n/a'} worst ${e.featureCosineWorst?.toFixed(4) ?? 'n/a'}, ${e.speedup.toFixed(2)}x fp32 speed on ${e.providers[0]} (${e.images} held-out images)`
    : 'not evaluated (run `backbones quantize … --precision fp16 --evaluate DIR`)';
  return `  ${m.createdAt.slice(0, 19).replace('T', ' ')}  ${m.weights}\n    fp32 kept: ${m.keptFloat32.join(', ') || 'none'}; ${figures}\n    → ${m.file}`;
}

export async function runModelsPull(names: string[], o: CommonOptions & { top?: boolean }): Promise<number> {
  const cacheDir = resolveCacheDir(o.cacheDir);
  const results: { name: string; file: string; status: 'cached' | 'downloaded' }[] = [];
  const cards = names.map((n) => getCard(n));
  for (const card of cards) {
    // The best file (verifiable first), even when a lesser one is cached already.
    const best = await locateImagenet(card, { head: o.top === false ? 'without' : 'with', cacheDir, prefer: 'best' });
    const already = best.cached;
    const file = already ? best.path : await pullSource(card, best.source, cacheDir, { pulling: true });
    results.push({ name: card.name, file, status: already ? 'cached' : 'downloaded' });
    if (o.format !== 'json') log.info(`${card.name}: ${already ? 'already cached' : 'downloaded and verified'} → ${file}`);
  }
  if (o.format === 'json') process.stdout.write(JSON.stringify(results, null, 2) + '\n');
  return EXIT.ok;
}

export async function runModelsPath(o: CommonOptions): Promise<number> {
  const dir = resolveCacheDir(o.cacheDir);
  process.stdout.write(o.format === 'json' ? JSON.stringify({ cacheDir: dir }) + '\n' : dir + '\n');
  return EXIT.ok;
}
