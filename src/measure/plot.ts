// Charts of a bench report: the latency distribution of every model × batch size
// (box plot over the raw samples, outliers as dots) above throughput bars.
// Vega-Lite spec → vega.View (renderer 'none', headless) → SVG; PNG through
// @resvg/resvg-js. The heavy modules are imported lazily.
import { existsSync, readdirSync } from 'node:fs';
import { writeFileAtomic } from '../output/staged.js';
import os from 'node:os';
import path from 'node:path';
import type { LoggerInterface } from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import type { BenchReport } from './result.js';

export const PLOT_FORMATS = ['svg', 'png'] as const;
export type PlotFormat = (typeof PLOT_FORMATS)[number];

export interface PlotResult {
  file: string;
  format: PlotFormat;
  /** Bytes written. */
  byteLength: number;
  /** The font family resvg used for text (PNG only); null for SVG, or when no font file was found. */
  pngFontFamily: string | null;
  /** Things the caller should tell the user (e.g. no fonts: text missing from the PNG). */
  warnings: string[];
}

/** Series label of one model at one batch size, e.g. "vgg16 (onnx) ×8": one per bar and per box. */
function seriesLabel(model: string, batchSize: number): string {
  return `${model} ×${batchSize}`;
}

/**
 * The Vega-Lite spec (data inline). Both panels have one row per model × batch size
 * with the same labels, and colour means the same thing in both: the model (with its
 * backend), explained by one shared legend.
 */
export function plotSpec(report: BenchReport): TopLevelSpec {
  const samples: { series: string; model: string; batch: number; latencyMs: number }[] = [];
  const throughput: { series: string; model: string; batch: number; imagesPerSecond: number }[] = [];
  for (const m of report.models) {
    const model = m.backend ? `${m.model} (${m.backend})` : m.model;
    for (const r of m.runs) {
      const series = seriesLabel(model, r.batchSize);
      for (const x of r.samplesMs) samples.push({ series, model, batch: r.batchSize, latencyMs: x });
      throughput.push({ series, model, batch: r.batchSize, imagesPerSecond: r.imagesPerSecond });
    }
  }
  const order = throughput.map((t) => t.series);
  const models = [...new Set(throughput.map((t) => t.model))];
  const title = `backbones bench · ${report.machine.cpuModel} · ${report.runtime.backend}`;
  const y = { field: 'series', type: 'nominal', sort: order, title: 'model (backend) × batch size' } as const;
  const color = { field: 'model', type: 'nominal', title: 'model (backend)', scale: { domain: models } } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    background: 'white',
    config: { font: 'sans-serif' },
    resolve: { scale: { color: 'shared' }, legend: { color: 'shared' } },
    vconcat: [
      {
        title: 'Latency per batch (ms), timed runs only',
        width: 520,
        data: { values: samples },
        mark: { type: 'boxplot', extent: 1.5, size: 14 },
        encoding: {
          y,
          // log scale: latencies of small and large models differ by orders of magnitude
          // The domain is given: derived from the data, an empty sublayer (a box without outliers) makes Vega warn of an infinite extent.
          x: { field: 'latencyMs', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log', ...latencyDomain(samples) } },
          color,
        },
      },
      {
        title: 'Throughput (images/s)',
        width: 520,
        data: { values: throughput },
        mark: { type: 'bar' },
        encoding: {
          y,
          x: { field: 'imagesPerSecond', type: 'quantitative', title: 'images / s' },
          color,
          tooltip: [
            { field: 'series', type: 'nominal' },
            { field: 'imagesPerSecond', type: 'quantitative', format: '.1f' },
          ],
        },
      },
    ],
  };
}

/** The latency axis' domain: every sample, padded a little on the log scale (none when there are no samples). */
function latencyDomain(samples: { latencyMs: number }[]): { domain?: [number, number] } {
  const xs = samples.map((s) => s.latencyMs).filter((x) => x > 0);
  if (xs.length === 0) return {};
  return { domain: [Math.min(...xs) / 1.2, Math.max(...xs) * 1.2] };
}

/** Collects Vega/Vega-Lite warnings instead of printing them to the console. */
function collectingLogger(sink: string[]): LoggerInterface {
  let level = 2; // vega.Warn
  const logger = {} as LoggerInterface;
  const push = (...args: readonly unknown[]) => {
    sink.push(args.map(String).join(' '));
    return logger;
  };
  Object.assign(logger, {
    level: (l?: number) => (l === undefined ? level : ((level = l), logger)),
    error: push,
    warn: push,
    info: () => logger,
    debug: () => logger,
  });
  return logger;
}

async function svgWithWarnings(report: BenchReport): Promise<{ svg: string; warnings: string[] }> {
  const [vl, vega] = await Promise.all([import('vega-lite'), import('vega')]);
  const warnings: string[] = [];
  const logger = collectingLogger(warnings);
  const { spec } = vl.compile(plotSpec(report), { logger });
  const view = new vega.View(vega.parse(spec), { renderer: 'none', logger });
  try {
    return { svg: await view.toSVG(), warnings: warnings.map((w) => `Vega: ${w}`) };
  } finally {
    view.finalize();
  }
}

/** The chart as an SVG string (Vega warnings dropped; renderPlot returns them). */
export async function renderSvg(report: BenchReport): Promise<string> {
  return (await svgWithWarnings(report)).svg;
}

/** Sans-serif fonts we know the family name of, by file name (resvg needs a real font for text). */
const KNOWN_FONTS: [file: string, family: string][] = [
  ['DejaVuSans.ttf', 'DejaVu Sans'],
  ['LiberationSans-Regular.ttf', 'Liberation Sans'],
  ['Arial.ttf', 'Arial'],
  ['arial.ttf', 'Arial'],
  ['NotoSans-Regular.ttf', 'Noto Sans'],
  ['Helvetica.ttc', 'Helvetica'],
  ['FreeSans.ttf', 'FreeSans'],
];

function fontDirs(): string[] {
  const home = os.homedir();
  return [
    '/usr/share/fonts',
    '/usr/local/share/fonts',
    path.join(home, '.fonts'),
    path.join(home, '.local/share/fonts'),
    '/System/Library/Fonts',
    '/Library/Fonts',
    'C:\\Windows\\Fonts',
  ].filter((d) => existsSync(d));
}

/** A known sans-serif font file on this machine, or null. Searches a few levels of the usual font folders. */
export function findSansFont(dirs: string[] = fontDirs()): { file: string; family: string } | null {
  const found = new Map<string, string>();
  const walk = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && depth < 4) walk(p, depth + 1);
      else if (!found.has(e.name)) found.set(e.name, p);
    }
  };
  for (const d of dirs) walk(d, 0);
  for (const [file, family] of KNOWN_FONTS) {
    const p = found.get(file);
    if (p) return { file: p, family };
  }
  return null;
}

/** The chart as PNG bytes, plus the font used (null: none found, text will be missing). */
export async function renderPng(report: BenchReport, options: { scale?: number } = {}): Promise<{ png: Buffer; fontFamily: string | null; warnings: string[] }> {
  const { svg, warnings } = await svgWithWarnings(report);
  const { Resvg } = await import('@resvg/resvg-js');
  const font = findSansFont();
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: options.scale ?? 2 },
    font: font
      ? { loadSystemFonts: true, fontFiles: [font.file], defaultFontFamily: font.family, sansSerifFamily: font.family }
      : { loadSystemFonts: true },
  });
  return { png: resvg.render().asPng(), fontFamily: font?.family ?? null, warnings };
}

/** Writes the chart to `file`: .svg or .png by extension. */
export async function renderPlot(report: BenchReport, file: string): Promise<PlotResult> {
  const ext = path.extname(file).slice(1).toLowerCase();
  if (!(PLOT_FORMATS as readonly string[]).includes(ext)) {
    throw new Error(`Cannot write a plot to "${file}": the file name must end with ${PLOT_FORMATS.map((f) => `.${f}`).join(' or ')}.`);
  }
  const warnings: string[] = [];
  if (report.models.every((m) => m.runs.length === 0)) warnings.push('No model produced timings; the plot is empty.');
  if (ext === 'svg') {
    const { svg, warnings: vegaWarnings } = await svgWithWarnings(report);
    warnings.push(...vegaWarnings);
    writeFileAtomic(file, svg);
    return { file, format: 'svg', byteLength: Buffer.byteLength(svg), pngFontFamily: null, warnings };
  }
  const { png, fontFamily, warnings: vegaWarnings } = await renderPng(report);
  warnings.push(...vegaWarnings);
  if (fontFamily === null) {
    warnings.push('No known sans-serif font file was found (e.g. DejaVuSans.ttf); text may be missing from the PNG. Install fonts-dejavu-core or write .svg instead.');
  }
  writeFileAtomic(file, png);
  return { file, format: 'png', byteLength: png.length, pngFontFamily: fontFamily, warnings };
}
