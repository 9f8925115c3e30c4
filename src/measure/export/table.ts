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
}

function pad(s: string, width: number, align: Column['align']): string {
  const n = [...s].length;
  const fill = ' '.repeat(Math.max(0, width - n));
  return align === 'right' ? fill + s : s + fill;
}

export class TableExporter implements BenchExporter {
  readonly extension = 'txt';
  private readonly c: ChalkInstance;

  constructor(options: TableExporterOptions = {}) {
    this.c = options.color === undefined ? new Chalk() : new Chalk({ level: options.color ? 1 : 0 });
  }

  serialize(report: BenchReport): string {
    const c = this.c;
    const columns: Column[] = [...columnsFor(report)];
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
    const cells = rows.map(({ model, run }) => (run ? columns.map((col) => col.cell(model, run)) : null));
    const widths = columns.map((col, i) =>
      Math.max([...col.header].length, ...cells.map((r) => (r ? [...r[i]!].length : 0))),
    );
    const totalWidth = widths.reduce((a, b) => a + b, 0) + GAP.length * (widths.length - 1);

    const lines: string[] = [];
    lines.push(c.bold(columns.map((col, i) => pad(col.header, widths[i]!, col.align)).join(GAP)));
    lines.push(c.dim('─'.repeat(totalWidth)));
    rows.forEach(({ model, run }, k) => {
      const rowCells = cells[k];
      if (!run || !rowCells) {
        const name = pad(model.model, widths[0]!, 'left');
        const rest = pad(`failed: ${(model.error ?? 'no message').replace(/\r?\n/g, ' ')}`, totalWidth - widths[0]! - GAP.length, 'left');
        lines.push(c.red(`${name}${GAP}${rest}`));
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

    lines.push(...endToEndLines(report));
    const warnings = warningLines(report);
    if (warnings.length > 0) {
      lines.push('');
      for (const { where, warning } of warnings) lines.push(`${c.yellow('Warning')} (${where}): ${warningMessage(warning)}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** The default terminal table (colours follow chalk's terminal detection). */
export const tableExporter: BenchExporter = new TableExporter();
