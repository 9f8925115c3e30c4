// One JSON array of every record, written record by record so memory stays flat.
import { recordToJson } from './records.js';
import type { WriterFactory } from './writer.js';

export const jsonWriter: WriterFactory = (sink) => {
  let count = 0;
  return {
    write: (record) => sink.write((count++ === 0 ? '[\n' : ',\n') + recordToJson(record)),
    close: async () => {
      sink.write(count === 0 ? '[]\n' : '\n]\n');
      await sink.close();
    },
  };
};
