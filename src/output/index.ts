// Output formats: one file each, one line here each.
import { BackbonesError } from '../errors.js';
import { csvWriter, readCsvResume } from './csv.js';
import { jsonWriter } from './json.js';
import { jsonlWriter, readJsonlResume } from './jsonl.js';
import { npyFiles, npyWriter, readNpyResume } from './npy.js';
import { tableWriter } from './table.js';
import type { ResumeReader, WriterFactory } from './writer.js';

interface OutputFormat {
  writer: WriterFactory;
  /** How --resume reads back what a file holds; absent: the format cannot be continued. */
  resume?: ResumeReader;
  /** Every file one output consists of, the main file first (default: just the file). */
  files?: (file: string) => string[];
}

export const FORMATS: Record<string, OutputFormat> = {
  table: { writer: tableWriter },
  jsonl: { writer: jsonlWriter, resume: readJsonlResume },
  // A JSON array is closed at the end; continuing one would mean rewriting it.
  json: { writer: jsonWriter },
  csv: { writer: csvWriter, resume: readCsvResume },
  npy: { writer: npyWriter, resume: readNpyResume, files: npyFiles },
};

function formatOf(format: string): OutputFormat {
  const f = FORMATS[format];
  if (!f) throw new BackbonesError('E_USAGE', `Unknown output format "${format}": valid formats are ${Object.keys(FORMATS).join(', ')}.`);
  return f;
}

export function writerFor(format: string): WriterFactory {
  return formatOf(format).writer;
}

/** The --resume reader of a format; a usage error for formats that cannot be continued. */
export function resumeReaderFor(format: string): ResumeReader {
  const reader = formatOf(format).resume;
  if (!reader) {
    const names = Object.entries(FORMATS).filter(([, f]) => f.resume).map(([k]) => k);
    throw new BackbonesError('E_USAGE', `--resume works with ${names.join(', ')} output, not ${format}.`);
  }
  return reader;
}

/** Every file an output written to `file` consists of, the main file first. */
export function outputFiles(format: string, file: string): string[] {
  return formatOf(format).files?.(file) ?? [file];
}

/** Format implied by an output file's extension, if any. */
export function formatFromExtension(file: string | undefined): string | undefined {
  const ext = file?.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  return ext === 'ndjson' ? 'jsonl' : ext && ext in FORMATS && ext !== 'table' ? ext : undefined;
}

export type { RecordWriter, ResumeState } from './writer.js';
