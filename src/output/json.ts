// One JSON array of every record, written record by record so memory stays flat.
// Each record is held back until the next one (or the end) says whether a comma
// follows, so every write ends a line: on a terminal the progress bar can redraw
// below it without overwriting half a record.
import { recordToJson } from './records.js';
import type { OutputFormat, WriterFactory } from './writer.js';

export const jsonWriter: WriterFactory = (sink) => {
  let pending: string | undefined;
  return {
    write: (record) => {
      sink.write(pending === undefined ? '[\n' : `${pending},\n`);
      pending = recordToJson(record);
    },
    close: async () => {
      sink.write(pending === undefined ? '[]\n' : `${pending}\n]\n`);
      await sink.close();
    },
  };
};

// A JSON array is closed at the end; continuing one would mean rewriting it, so no resume reader.
export const jsonFormat: OutputFormat = { name: 'json', extensions: ['json'], holds: ['classify', 'extract'], writer: jsonWriter };
