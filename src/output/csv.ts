// CSV (RFC 4180 quoting). classify: one row per label (path, rank, index, wnid,
// label, prob, error); extract: one row per image (path, error, v0 … vN-1), failed
// images padded with empty cells to the header's width.
import { readFileSync } from 'node:fs';
import { BackbonesError } from '../errors.js';
import { float32ToString, isError, type ErrorRecord, type OutputRecord } from './records.js';
import { partialPath, resumeSource } from './staged.js';
import type { OutputFormat, ResumeReader, ResumeState, WriterFactory } from './writer.js';

/** One RFC 4180 field: quoted when it holds a comma, quote or line break, quotes doubled; null/undefined → `missing`. */
export function csvField(value: string | number | null | undefined, missing = ''): string {
  const s = value === null || value === undefined ? missing : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const row = (fields: (string | number | null | undefined)[]) => fields.map((f) => csvField(f)).join(',') + '\n';

const CLASSIFY_HEADER = ['path', 'rank', 'index', 'wnid', 'label', 'prob', 'error'];

export const csvWriter: WriterFactory = (sink, { kind, appending, resumed, file }) => {
  // extract: the header needs the vector width, so failed images seen before the first vector wait.
  let columns = kind === 'extract' ? resumed?.columns : undefined;
  let headerDone = appending;
  const waiting: ErrorRecord[] = [];
  const errorRow = (r: ErrorRecord) =>
    kind === 'classify' ? row([r.path, '', '', '', '', '', r.error]) : row([r.path, r.error, ...new Array<string>(columns ?? 0).fill('')]);
  const header = () => {
    if (headerDone) return;
    headerDone = true;
    if (kind === 'classify') sink.write(row(CLASSIFY_HEADER));
    else sink.write(row(['path', 'error', ...Array.from({ length: columns ?? 0 }, (_, i) => `v${i}`)]));
  };
  const flushWaiting = () => {
    header();
    for (const r of waiting.splice(0)) sink.write(errorRow(r));
  };
  return {
    write: (record) => {
      if (isError(record)) {
        if (kind === 'extract' && columns === undefined) waiting.push(record);
        else {
          header();
          sink.write(errorRow(record));
        }
      } else if ('predictions' in record) {
        header();
        record.predictions.forEach((p, i) => sink.write(row([record.path, i + 1, p.index, p.wnid, p.label, p.prob, ''])));
      } else {
        if (columns === undefined) columns = record.vector.length;
        if (record.vector.length !== columns) {
          throw new BackbonesError('E_USAGE', `${file ?? 'The CSV'} has ${columns} values per row; ${record.path} gives ${record.vector.length} (a different layer or model?).`);
        }
        flushWaiting();
        sink.write(csvField(record.path) + ',,' + Array.from(record.vector, float32ToString).join(',') + '\n');
      }
    },
    close: async () => {
      if (waiting.length > 0 || !headerDone) flushWaiting();
      await sink.close();
    },
  };
};

/**
 * The records of a CSV text: the first field of each and where each ends (a quoted
 * field may hold commas and line breaks). A record not ended by a line break is torn.
 */
function csvRecords(text: string): { first: string; fields: number; end: number }[] {
  const out: { first: string; fields: number; end: number }[] = [];
  let i = 0;
  while (i < text.length) {
    let first: string | undefined;
    let fields = 0;
    let ended = false;
    while (i < text.length && !ended) {
      let value = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) return out; // torn inside quotes
          if (text[i] === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
            } else {
              i++;
              break;
            }
          } else value += text[i++];
        }
      }
      while (i < text.length && text[i] !== ',' && text[i] !== '\n') value += text[i++];
      fields++;
      first ??= value.replace(/\r$/, '');
      if (i >= text.length) return out; // torn: no line break after the last field
      if (text[i] === '\n') ended = true;
      i++;
    }
    out.push({ first: first ?? '', fields, end: i });
  }
  return out;
}

export const readCsvResume: ResumeReader = (file) => {
  const source = resumeSource(file);
  const state: ResumeState = { done: new Set(), files: [], fromPartial: source === partialPath(file) };
  if (!source) return state;
  const buf = readFileSync(source);
  const text = buf.toString('utf8');
  if (text.length > 0 && Buffer.byteLength(text) !== buf.length) {
    throw new BackbonesError('E_USAGE', `--resume: ${source} is not text, so it is not a backbones CSV output; the file was left as it is.`);
  }
  const records = csvRecords(text);
  const header = records[0];
  if (records.length > 0 && (header!.first !== 'path' || header!.fields < 2)) {
    throw new BackbonesError('E_USAGE', `--resume: ${source} does not start with a backbones CSV header (path,…), so the file was left as it is.`);
  }
  for (const r of records.slice(1)) if (r.first) state.done.add(r.first);
  if (header && text.startsWith('path,error,')) state.columns = header.fields - 2;
  const keep = records.length > 0 ? Buffer.byteLength(text.slice(0, records[records.length - 1]!.end)) : 0;
  state.files.push({ file, source, keepBytes: keep });
  return state;
};

export const csvFormat: OutputFormat = {
  name: 'csv',
  extensions: ['csv'],
  holds: ['classify', 'extract'],
  writer: csvWriter,
  resume: readCsvResume,
};
