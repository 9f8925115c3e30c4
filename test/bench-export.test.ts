import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { csvExporter } from '../src/measure/export/csv.js';
import { EXPORTERS, exporterFor, formatForFile, TableExporter } from '../src/measure/export/index.js';
import { formatBytes, formatMiB, formatMs, formatRatio } from '../src/measure/export/format.js';
import { jsonExporter } from '../src/measure/export/json.js';
import { markdownExporter } from '../src/measure/export/markdown.js';
import { parseCsv } from './helpers/npy.js';
import { findSansFont, renderPlot } from '../src/measure/plot.js';
import { fakeReport } from './helpers/bench-fixtures.js';


const ANSI = /\x1b\[[0-9;]*m/g;

describe('registry', () => {
  test('one exporter per format; unknown formats list the valid ones', () => {
    assert.deepEqual(Object.keys(EXPORTERS), ['json', 'markdown', 'csv', 'table']);
    assert.equal(exporterFor('csv'), csvExporter);
    assert.throws(() => exporterFor('xml'), /Unknown export format "xml". Valid formats are: json, markdown, csv, table\./);
    assert.equal(formatForFile('out/results.md'), 'markdown');
    assert.equal(formatForFile('r.JSON'), 'json');
    assert.equal(formatForFile('r.txt'), 'table');
    assert.throws(() => formatForFile('r.xlsx'), /Use one of: \.json, \.md, \.csv, \.txt/);
  });
});

describe('json', () => {
  test('round-trips the whole report, raw samples included', () => {
    const report = fakeReport();
    const text = jsonExporter.serialize(report);
    assert.deepEqual(JSON.parse(text), report);
    assert.equal(JSON.parse(text).models[0].runs[0].samplesMs.length, 20);
    assert.ok(text.includes('\n  "schemaVersion": 1,'));
  });
});

describe('markdown', () => {
  const report = fakeReport();
  const md = markdownExporter.serialize(report);
  const tableLines = md.split('\n').filter((l) => l.startsWith('|'));

  test('one row per model × batch, plus the failed model', () => {
    // header + separator + 4 runs + 1 failed
    assert.equal(tableLines.length, 2 + 4 + 1);
    const cols = tableLines[0]!.split(' | ').length;
    for (const l of tableLines) assert.equal(l.split(' | ').length, cols, l);
    assert.ok(tableLines.some((l) => l.startsWith('| vgg16 | cpu | cpu | cpu | 8 | imagenet |')));
    assert.ok(tableLines.some((l) => l.startsWith('| mobilenet | cpu | cpu | cpu | 1 | random |')));
    assert.ok(tableLines.some((l) => l.startsWith('| resnet50 | n/a | n/a | n/a | **failed** |')));
  });

  test('n/a for unmeasured GPU memory and unknown MACs; measured GPU in MiB', () => {
    const vgg1 = tableLines.find((l) => l.startsWith('| vgg16 | cpu | cpu | cpu | 1 |'))!;
    assert.ok(vgg1.trimEnd().endsWith('| 1234 |'), vgg1);
    const vgg8 = tableLines.find((l) => l.startsWith('| vgg16 | cpu | cpu | cpu | 8 |'))!;
    assert.ok(vgg8.trimEnd().endsWith('| n/a |'), vgg8);
    const mob = tableLines.find((l) => l.startsWith('| mobilenet | cpu | cpu | cpu | 1 |'))!;
    assert.match(mob, /\| n\/a \| 188 \|/); // GFLOP/s n/a (MACs unknown), CPU % measured
  });

  test('header tells machine, runtime and method; warnings and errors listed', () => {
    assert.match(md, /Machine: Test CPU 3000, 1 physical \/ 2 logical cores, 24\.0 GiB RAM/);
    assert.match(md, /GPUs: none \(nvidia-smi not found\)/);
    assert.match(md, /Runtime: Node v20\.20\.2, TensorFlow\.js 4\.22\.0, backend cpu/);
    assert.match(md, /Warm-up excluded: the first inference and 3 warm-up runs/);
    assert.match(md, /20 timed runs per batch size/);
    assert.match(md, /- \*\*vgg16 on cpu, batch 8\*\*: Statistical outliers were detected/);
    assert.match(md, /- \*\*mobilenet\*\*: mobilenet ran with random weights/);
    assert.match(md, /- \*\*resnet50\*\*: weights file not found: resnet50\.h5/);
  });

  test('pipes in values do not break the table', () => {
    const r = fakeReport();
    r.models[0]!.model = 'a|b';
    const lines = markdownExporter.serialize(r).split('\n').filter((l) => l.startsWith('| a'));
    assert.ok(lines[0]!.startsWith('| a\\|b |'));
  });
});

describe('csv', () => {
  const report = fakeReport();
  const rows = parseCsv(csvExporter.serialize(report));
  const header = rows[0]!;
  const records = rows.slice(1).map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]!])));

  test('parses with its header; one row per model × batch plus the failure', () => {
    for (const r of rows) assert.equal(r.length, header.length);
    assert.equal(records.length, 5);
    assert.deepEqual(records.map((r) => `${r.model}@${r.batch_size}`), ['vgg16@1', 'vgg16@8', 'mobilenet@1', 'mobilenet@8', 'resnet50@n/a']);
  });

  test('numbers unformatted, n/a for nulls, error text kept', () => {
    const run = report.models[0]!.runs[0]!;
    const vgg1 = records[0]!;
    assert.equal(Number(vgg1.p99_ms), run.latencyMs.p99);
    assert.equal(Number(vgg1.images_per_second), run.imagesPerSecond);
    assert.equal(vgg1.gpu_process_memory_peak_byte, String(1234 * 1048576));
    assert.equal(records[1]!.gpu_process_memory_peak_byte, 'n/a');
    assert.equal(records[1]!.warnings, 'statistical-outliers');
    assert.equal(records[2]!.gflops_per_second, 'n/a');
    assert.equal(records[2]!.warnings, 'random-weights');
    assert.equal(records[4]!.status, 'failed');
    // Where each row ran; a model that failed before an engine started has none.
    assert.deepEqual([vgg1.device, vgg1.provider, vgg1.adapter], ['cpu', 'cpu', 'Test CPU 3000']);
    assert.deepEqual([records[4]!.device, records[4]!.provider, records[4]!.adapter], ['n/a', 'n/a', 'n/a']);
    assert.equal(records[4]!.load_ms, 'n/a');
    assert.equal(records[4]!.error, 'weights file not found: resnet50.h5');
  });

  test('quotes commas and quotes', () => {
    const r = fakeReport();
    r.models[2]!.error = 'bad "shape", got [1,2]';
    const rec = parseCsv(csvExporter.serialize(r)).at(-1)!;
    assert.equal(rec.at(-1), 'bad "shape", got [1,2]');
  });
});

describe('table', () => {
  const report = fakeReport();

  test('without colour: no escape codes and columns line up', () => {
    const out = new TableExporter({ color: false, width: 250 }).serialize(report);
    assert.doesNotMatch(out, ANSI);
    const lines = out.split('\n');
    const table = lines.slice(0, lines.indexOf(''));
    assert.equal(table.length, 2 + 4 + 1);
    const width = table[0]!.length;
    for (const l of table) assert.equal([...l].length, width, JSON.stringify(l));
    // right-aligned numeric columns end at the same offset as their header
    const header = table[0]!;
    const imgEnd = header.indexOf('img/s') + 'img/s'.length;
    for (const l of table.slice(2, 6)) assert.match(l.slice(imgEnd - 1, imgEnd), /\d/);
  });

  test('fits its width (120 by default): drops the least telling columns first, says which, wraps the text under it', () => {
    const wide = new TableExporter({ color: false, width: 250 }).serialize(report);
    const header = (out: string) => out.split('\n')[0]!.split(/\s{2,}/);
    // Everything fits 250 columns: nothing dropped, the long headers shortened.
    assert.ok(header(wide).includes('GFLOP/s') && header(wide).includes('first ms') && header(wide).includes('GPU mem MiB'), header(wide).join('|'));
    assert.doesNotMatch(wide, /Not shown/);
    assert.ok(Math.max(...wide.split('\n').map((l) => [...l].length)) > 120, 'the full table is wider than 120 columns');
    for (const width of [120, 100, 80]) {
      const out = width === 120 ? new TableExporter({ color: false }).serialize(report) : new TableExporter({ color: false, width }).serialize(report);
      const long = out.split('\n').filter((l) => [...l].length > width);
      assert.deepEqual(long, [], `every line fits ${width} columns`);
      // What always stays, and the dropped ones named.
      for (const h of ['model', 'backend', 'batch', 'p50 ms', 'img/s', 'vs first']) assert.ok(header(out).includes(h), `${width}: ${h}`);
      const named = out.match(/Not shown for width \((\d+) columns\): ([^;]+);/);
      assert.ok(named, out);
      assert.equal(Number(named[1]), width);
      const gone = named[2]!.split(', ');
      for (const h of gone) assert.ok(!header(out).includes(h), `${h} is not in the header`);
      assert.ok(gone.includes('GPU mem MiB') && gone.includes('p90 ms'), gone.join(', '));
      // The rows keep their values under their headers: vgg16 batch 1 still reads 8.32 img/s.
      assert.match(out, /^vgg16\s.*\s8\.32\s+1\.00×/m);
    }
  });

  test('ratios against the first model', () => {
    const out = new TableExporter({ color: false }).serialize(report);
    const row = (model: string, batch: number) => out.split('\n').find((l) => new RegExp(`^${model}\\s+cpu\\s+cpu\\s+cpu\\s+${batch}\\s`).test(l))!;
    assert.match(row('vgg16', 1), /\s1\.00×\s/);
    assert.match(row('vgg16', 8), /\s1\.00×\s/);
    // mobilenet at batch 1: 120 ms vs 9.5 ms mean → ≈12.6× faster
    assert.match(row('mobilenet', 1), /\s12\.\d× faster\s/);
    assert.match(row('mobilenet', 8), /× faster/);
    assert.match(out, /^resnet50\s+failed: weights file not found: resnet50\.h5\s*$/m);
    assert.match(out, /Warning \(mobilenet\): mobilenet ran with random weights/);
  });

  test('with colour: fastest img/s bold green, failed row red, same text underneath', () => {
    const plain = new TableExporter({ color: false }).serialize(report);
    const coloured = new TableExporter({ color: true }).serialize(report);
    assert.equal(coloured.replace(ANSI, ''), plain);
    const mob1 = coloured.split('\n').find((l) => /^mobilenet\s+cpu\s+cpu\s+cpu\s+1\s/.test(l.replace(ANSI, '')))!;
    assert.match(mob1, /\x1b\[32m\x1b\[1m\s*\d+\.?\d*\x1b\[22m\x1b\[39m/); // green + bold
    assert.match(coloured, /\x1b\[31mresnet50/);
  });

  test('formatting helpers never invent numbers', () => {
    assert.equal(formatMs(null), 'n/a');
    assert.equal(formatMiB(undefined), 'n/a');
    assert.equal(formatBytes(null), 'n/a');
    assert.equal(formatMs(1234.5), '1235');
    assert.equal(formatMs(12.345), '12.3');
    assert.equal(formatMs(1.2345), '1.23');
    assert.equal(formatBytes(1536 * 1048576), '1.5 GiB');
    assert.equal(formatRatio(50, 100, false), '2.00× slower');
    assert.equal(formatRatio(1230, 100, false), '12.3× faster');
    assert.equal(formatRatio(10, undefined, false), 'n/a');
  });
});

describe('plot', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'backbones-plot-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('SVG: an <svg> document naming every model that ran', { timeout: 60000 }, async () => {
    const file = path.join(dir, 'bench.svg');
    const r = await renderPlot(fakeReport(), file);
    const svg = readFileSync(file, 'utf8');
    assert.equal(r.format, 'svg');
    assert.ok(svg.startsWith('<svg'), svg.slice(0, 80));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    for (const name of ['vgg16 (cpu) ×1', 'vgg16 (cpu) ×8', 'mobilenet (cpu) ×1', 'mobilenet']) assert.ok(svg.includes(name), name);
    assert.ok(!svg.includes('resnet50 ×'), 'failed model has no series');
  });

  test('PNG: magic bytes and a non-trivial size', { timeout: 60000 }, async () => {
    const file = path.join(dir, 'bench.png');
    const r = await renderPlot(fakeReport(), file);
    const png = readFileSync(file);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(png.length > 10_000, `only ${png.length} bytes`);
    assert.equal(r.byteLength, png.length);
    assert.equal(r.pngFontFamily, findSansFont()?.family ?? null);
    if (r.pngFontFamily === null) assert.match(r.warnings.join(' '), /text may be missing/);
  });

  test('other extensions are refused with the valid ones', async () => {
    await assert.rejects(renderPlot(fakeReport(), path.join(dir, 'x.pdf')), /must end with \.svg or \.png/);
  });
});
