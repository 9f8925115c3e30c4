// JSON Lines: one whole line per input, written as soon as it is known. The format
// to pipe into jq, and the one --resume reads back.
import { recordToJson } from './records.js';
import type { WriterFactory } from './writer.js';

export const jsonlWriter: WriterFactory = (sink) => ({
  write: (record) => sink.write(recordToJson(record) + '\n'),
  close: () => sink.close(),
});
