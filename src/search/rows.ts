// Writes the flat rows of search and dedup (query/rank/path/similarity, group/path/keeper …)
// as the other commands write records: JSONL, one JSON array, RFC 4180 CSV (the
// output module's quoting), or an aligned table for a terminal.
import { csvField } from '../output/csv.js';

export const ROW_FORMATS = ['table', 'jsonl', 'json', 'csv'] as const;
export type RowFormat = (typeof ROW_FORMATS)[number];

export type Row = Record<string, string | number | boolean | null>;

export interface RowWriter {
  write(row: Row): void;
  close(): void;
}

/** A writer of rows with these columns (CSV header and table order) to `out`. */
export function rowWriter(format: RowFormat, columns: string[], out: (text: string) => void): RowWriter {
  const cell = (v: Row[string] | undefined) => (v === null || v === undefined ? '' : typeof v === 'number' && !Number.isInteger(v) ? String(Math.round(v * 1e6) / 1e6) : String(v));
  if (format === 'jsonl') return { write: (r) => out(JSON.stringify(r) + '\n'), close: () => {} };
  if (format === 'csv') {
    out(columns.map((c) => csvField(c)).join(',') + '\n');
    return { write: (r) => out(columns.map((c) => csvField(r[c] === null || r[c] === undefined ? null : typeof r[c] === 'boolean' ? String(r[c]) : (r[c] as string | number))).join(',') + '\n'), close: () => {} };
  }
  const rows: Row[] = [];
  if (format === 'json') return { write: (r) => rows.push(r), close: () => out(JSON.stringify(rows, null, 2) + '\n') };
  return {
    write: (r) => rows.push(r),
    close: () => {
      const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
      const line = (cells: string[]) => cells.map((s, i) => s.padEnd(widths[i]!)).join('  ').trimEnd() + '\n';
      out(line(columns));
      for (const r of rows) out(line(columns.map((c) => cell(r[c]))));
    },
  };
}
