// The interface every output format implements: records in, bytes to a sink.
import type { OutputRecord, RecordKind } from './records.js';
import type { Sink } from './sink.js';

export interface RecordWriter {
  write(record: OutputRecord): void;
  /** Finishes the output (json closes its array, npy fixes its header) and closes the sink. */
  close(): Promise<void>;
}

export interface WriterOptions {
  kind: RecordKind;
  /** Colour for human formats (table). */
  colour: boolean;
  /** Resuming into an existing file: do not write headers again. */
  appending: boolean;
}

export type WriterFactory = (sink: Sink, options: WriterOptions) => RecordWriter;
