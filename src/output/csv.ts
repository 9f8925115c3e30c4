// CSV (RFC 4180 quoting). classify: one row per label (path, rank, index, wnid,
// label, prob, error); extract: one row per image (path, error, v0 … vN-1).
import { float32ToString, isError, type OutputRecord } from './records.js';
import type { WriterFactory } from './writer.js';

export function csvField(value: string | number | null | undefined): string {
  const s = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const row = (fields: (string | number | null | undefined)[]) => fields.map(csvField).join(',') + '\n';

export const csvWriter: WriterFactory = (sink, { kind, appending }) => {
  let headerDone = appending;
  const header = (record: OutputRecord) => {
    if (headerDone) return;
    headerDone = true;
    if (kind === 'classify') sink.write(row(['path', 'rank', 'index', 'wnid', 'label', 'prob', 'error']));
    else if ('vector' in record) sink.write(row(['path', 'error', ...Array.from(record.vector, (_, i) => `v${i}`)]));
    else headerDone = false; // wait for a vector to know the width
  };
  return {
    write: (record) => {
      header(record);
      if (isError(record)) {
        sink.write(kind === 'classify' ? row([record.path, '', '', '', '', '', record.error]) : row([record.path, record.error]));
      } else if ('predictions' in record) {
        record.predictions.forEach((p, i) => sink.write(row([record.path, i + 1, p.index, p.wnid, p.label, p.prob, ''])));
      } else {
        sink.write(csvField(record.path) + ',,' + Array.from(record.vector, float32ToString).join(',') + '\n');
      }
    },
    close: () => sink.close(),
  };
};
