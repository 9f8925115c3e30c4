// Output formats: one file each, one line here each.
import { BackbonesError } from '../errors.js';
import { csvWriter } from './csv.js';
import { jsonWriter } from './json.js';
import { jsonlWriter } from './jsonl.js';
import { npyWriter } from './npy.js';
import { tableWriter } from './table.js';
import type { WriterFactory } from './writer.js';

export const WRITERS: Record<string, WriterFactory> = {
  table: tableWriter,
  jsonl: jsonlWriter,
  json: jsonWriter,
  csv: csvWriter,
  npy: npyWriter,
};

export function writerFor(format: string): WriterFactory {
  const w = WRITERS[format];
  if (!w) throw new BackbonesError('E_USAGE', `Unknown output format "${format}": valid formats are ${Object.keys(WRITERS).join(', ')}.`);
  return w;
}

/** Format implied by an output file's extension, if any. */
export function formatFromExtension(file: string | undefined): string | undefined {
  const ext = file?.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  return ext === 'ndjson' ? 'jsonl' : ext && ext in WRITERS && ext !== 'table' ? ext : undefined;
}

export type { RecordWriter } from './writer.js';
