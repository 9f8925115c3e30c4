// Registry of bench output formats: one exporter per file (after hyperfine's export/).
// The --format choices, the format an -o file name implies and the check of both come from here.
import { BackbonesError } from '../../errors.js';
import { csvExporter } from './csv.js';
import type { BenchExporter } from './exporter.js';
import { jsonExporter } from './json.js';
import { markdownExporter } from './markdown.js';
import { tableExporter } from './table.js';

export type { BenchExporter } from './exporter.js';
export { DEFAULT_TABLE_WIDTH, TableExporter, type TableExporterOptions } from './table.js';

export const EXPORTERS = {
  json: jsonExporter,
  markdown: markdownExporter,
  csv: csvExporter,
  table: tableExporter,
} as const satisfies Record<string, BenchExporter>;

export type ExportFormat = keyof typeof EXPORTERS;

export const EXPORT_FORMATS = Object.keys(EXPORTERS) as ExportFormat[];

export function isExportFormat(format: string): format is ExportFormat {
  return Object.hasOwn(EXPORTERS, format);
}

/** The exporter for a format name; throws listing the valid ones. */
export function exporterFor(format: string): BenchExporter {
  if (!isExportFormat(format)) {
    throw new Error(`Unknown export format "${format}". Valid formats are: ${EXPORT_FORMATS.join(', ')}.`);
  }
  return EXPORTERS[format];
}

/** The format for an output file name by its extension (.json, .md/.markdown, .csv, .txt); throws listing them. */
export function formatForFile(file: string): ExportFormat {
  const ext = file.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1] ?? '';
  if (ext === 'markdown') return 'markdown';
  const hit = EXPORT_FORMATS.find((f) => EXPORTERS[f].extension === ext);
  if (!hit) {
    const valid = EXPORT_FORMATS.map((f) => `.${EXPORTERS[f].extension}`).join(', ');
    throw new Error(`Cannot tell the export format from the file name "${file}". Use one of: ${valid}.`);
  }
  return hit;
}

/**
 * The one check of bench's --format and -o: the format printed on stdout (default: table
 * on a terminal, json when piped) and the -o file's (--format, else from its extension).
 */
export function benchFormats(o: { format?: string; output?: string }, stdoutIsTerminal: boolean): { format: ExportFormat; fileFormat?: ExportFormat } {
  if (o.format !== undefined && !isExportFormat(o.format)) {
    throw new BackbonesError('E_USAGE', `Unknown --format "${o.format}": valid formats are ${EXPORT_FORMATS.join(', ')}.`);
  }
  const format: ExportFormat | undefined = o.format;
  let fileFormat: ExportFormat | undefined;
  if (o.output !== undefined) {
    try {
      fileFormat = format ?? formatForFile(o.output);
    } catch (e) {
      throw new BackbonesError('E_USAGE', (e as Error).message);
    }
  }
  return { format: format ?? (stdoutIsTerminal ? 'table' : 'json'), ...(fileFormat ? { fileFormat } : {}) };
}
