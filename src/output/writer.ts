// The interface every output format implements: records in, bytes to a sink; and,
// for the formats --resume can continue, how to read back what a file already holds.
import type { SpecRecord } from './spec-record.js';
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
  /** What the resumed file already holds (npy: rows and width; csv: vector width). */
  resumed?: ResumeState;
  /** The output's final file name; absent for stdout. */
  file?: string;
  /** How the records are made (the run spec's fields and fingerprint): formats that can carry it inside the file do (Parquet's key-value metadata); every file output also has it in FILE.spec.json. */
  spec?: SpecRecord;
  /** Opens a sidecar file of this output (staged like the main file); absent for stdout. */
  open?: (file: string, options: { append?: boolean }) => Sink;
}

export type WriterFactory = (sink: Sink, options: WriterOptions) => RecordWriter;

/** One file of an output as --resume continues it: its first keepBytes bytes of source. */
export interface ResumedFile {
  file: string;
  source: string;
  keepBytes: number;
}

/** What --resume found in an output: the inputs already done and the bytes to keep. */
export interface ResumeState {
  done: Set<string>;
  /** The main file first; empty when there is nothing to continue. */
  files: ResumedFile[];
  /** Rows already in the file (npy). */
  rows?: number;
  /** Values per vector already fixed by the file (npy, extract csv); undefined when not yet known. */
  columns?: number;
  /** True when the source is the partial file a killed run left. */
  fromPartial: boolean;
}

/** Reads (never modifies) an output file for --resume; throws a usage error for a file it cannot continue. */
export type ResumeReader = (file: string) => ResumeState;
/** A reader that must load a library first (Parquet). */
export type AsyncResumeReader = (file: string) => Promise<ResumeState>;

/**
 * What an output format is: every writer module exports one, and the registry
 * (index.ts) answers every format question from these alone.
 */
export interface OutputFormat {
  /** The --format name. */
  name: string;
  /** Extensions of -o FILE that select it, without the dot; none: never chosen by the file name. */
  extensions: readonly string[];
  /** The records it can hold (npy: fixed-width float vectors, so extract only). */
  holds: readonly RecordKind[];
  /** Why it needs -o with a regular file (it seeks back or writes sidecars); absent: it streams front to back. */
  needsFile?: string;
  writer: WriterFactory;
  /** How --resume reads back what a file holds; absent: the format cannot be continued. */
  resume?: ResumeReader | AsyncResumeReader;
  /** Every file one output consists of, the main file first (default: just the file). */
  files?: (file: string) => string[];
}
