// The terminal table: same columns as markdown plus a speed ratio against the
// first model, the fastest img/s per batch size in bold green, failed models as
// red rows with their error. Columns are padded on the plain text before any
// colour is applied, so they line up with colours on or off.
import { Chalk, type ChalkInstance } from 'chalk';
import type { BenchReport, ModelResult } from '../result.js';
import { warningMessage } from '../warnings.js';
import type { BenchExporter } from './exporter.js';
import { baselineImagesPerSecond, benchRows, fastestImagesPerSecond, formatRatio, warningLines } from './format.js';
import { columnsFor, type Column } from './columns.js';
import { endToEndLines } from './end-to-end.js';

const GAP = '  ';

/** Ratio against the first model's img/s at the same batch size. */
const RATIO_HEADER = 'vs first';

export interface TableExporterOptions {
  /** Force colours on or off; default: chalk's detection of the terminal. */
  color?: boolean;
  /** Columns the table may use (default 120): columns are dropped, least telling first, until it fits. */
  width?: number;
}

export const DEFAULT_TABLE_WIDTH = 120;

/**
 * Shorter headers where the markdown one is long; the markdown and CSV reports keep the full
 * names. (hyperfine and docker ps shorten and drop columns the same way.)
 */
const SHORT_HEADERS: Record<string, string> = {
  'first inference ms': 'first ms',
  'peak RSS MiB': 'RSS MiB',
  'overlap limit img/s': 'limit img/s',
  'e2e % of model': 'e2e %',
  'e2e % of limit': '% of limit',
  'failed files': 'failed',
  'decode CPU ms': 'dec CPU ms',
};

/**
 * The columns dropped when the table is too wide, first dropped first: the figures the
 * end-to-end lines and the other formats repeat, then the secondary statistics. model,
 * backend, precision, batch, p50, img/s and the ratio always stay.
 */
const DROP_ORDER = [
  'decode', 'dec CPU ms', 'model CPU ms', 'limit img/s', '% of limit', 'failed', 'e2e %',
  'GPU mem MiB', 'p90 ms', 'GFLOP/s', 'first ms', 'runs', 'p99 ms', 'provider', 'device', 'CPU %', 'RSS MiB', 'load ms', 'weights',
];

/** Words of text in lines of at most width characters; lines after the first start with indent. */
export function wrapText(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  const lead = text.match(/^\s*/)![0];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : `${lines.length ? indent : lead}${word}`;
    if ([...next].length > width && line && line.trim()) {
      lines.push(line);
      line = `${indent}${word}`;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

function pad(s: string, width: number, align: Column['align']): string {
  const n = [...s].length;
  const fill = ' '.repeat(Math.max(0, width - n));
  return align === 'right' ? fill + s : s + fill;
}

export class TableExporter implements BenchExporter {
  readonly extension = 'txt';
  private readonly c: ChalkInstance;
  private readonly width: number;

  constructor(options: TableExporterOptions = {}) {
    this.c = options.color === undefined ? new Chalk() : new Chalk({ level: options.color ? 1 : 0 });
    this.width = options.width ?? DEFAULT_TABLE_WIDTH;
  }

  serialize(report: BenchReport): string {
    const c = this.c;
    let columns: Column[] = columnsFor(report).map((col) => ({ ...col, header: SHORT_HEADERS[col.header] ?? col.header }));
    const imgIdx = columns.findIndex((col) => col.header === 'img/s');
    const baseline = baselineImagesPerSecond(report);
    const fastest = fastestImagesPerSecond(report);
    const firstWithBatch = new Map<number, ModelResult>();
    for (const m of report.models) for (const r of m.runs) if (!firstWithBatch.has(r.batchSize)) firstWithBatch.set(r.batchSize, m);
    columns.splice(imgIdx + 1, 0, {
      header: RATIO_HEADER,
      align: 'right',
      cell: (m, r) => formatRatio(r.imagesPerSecond, baseline.get(r.batchSize), firstWithBatch.get(r.batchSize) === m),
    });

    const rows = benchRows(report);
    const cellsOf = (cols: Column[]) => rows.map(({ model, run }) => (run ? cols.map((col) => col.cell(model, run)) : null));
    const widthsOf = (cols: Column[], cells: (string[] | null)[]) =>
      cols.map((col, i) => Math.max([...col.header].length, ...cells.map((r) => (r ? [...r[i]!].length : 0))));
    const sum = (ws: number[]) => ws.reduce((a, b) => a + b, 0) + GAP.length * (ws.length - 1);
    // Too wide for the terminal: drop columns in DROP_ORDER until it fits, and say which.
    const dropped: string[] = [];
    for (const header of DROP_ORDER) {
      if (sum(widthsOf(columns, cellsOf(columns))) <= this.width) break;
      if (!columns.some((col) => col.header === header)) continue;
      columns = columns.filter((col) => col.header !== header);
      dropped.push(header);
    }
    const cells = cellsOf(columns);
    const widths = widthsOf(columns, cells);
    const totalWidth = sum(widths);

    const lines: string[] = [];
    lines.push(c.bold(columns.map((col, i) => pad(col.header, widths[i]!, col.align)).join(GAP)));
    lines.push(c.dim('─'.repeat(totalWidth)));
    rows.forEach(({ model, run }, k) => {
      const rowCells = cells[k];
      if (!run || !rowCells) {
        // The error wraps under itself within the table's width.
        const room = Math.max(20, Math.max(totalWidth, Math.min(this.width, 80)) - widths[0]! - GAP.length);
        const text = wrapText(`failed: ${model.error ?? 'no message'}`, room);
        text.forEach((t, j) => {
          const name = pad(j === 0 ? model.model : '', widths[0]!, 'left');
          lines.push(c.red(`${name}${GAP}${pad(t, totalWidth - widths[0]! - GAP.length, 'left')}`));
        });
        return;
      }
      const isFastest = run.imagesPerSecond === fastest.get(run.batchSize);
      lines.push(
        columns
          .map((col, i) => {
            const text = pad(rowCells[i]!, widths[i]!, col.align);
            if (isFastest && (col.header === 'img/s' || col.header === RATIO_HEADER)) return c.green.bold(text);
            return text;
          })
          .join(GAP),
      );
    });

    if (dropped.length > 0) {
      lines.push(...wrapText(`Not shown for width (${this.width} columns): ${dropped.join(', ')}; -f markdown, csv and json have every column.`, this.width, '  ').map((l) => c.dim(l)));
    }
    for (const l of endToEndLines(report)) lines.push(...wrapText(l, this.width, '    '));
    const warnings = warningLines(report);
    if (warnings.length > 0) {
      lines.push('');
      for (const { where, warning } of warnings) {
        const [first, ...rest] = wrapText(`Warning (${where}): ${warningMessage(warning)}`, this.width, '  ');
        lines.push(first!.replace(/^Warning/, c.yellow('Warning')), ...rest);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

/** The default terminal table (colours follow chalk's terminal detection). */
export const tableExporter: BenchExporter = new TableExporter();
