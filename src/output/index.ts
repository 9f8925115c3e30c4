// The output formats: one file each (each exports its OutputFormat), one row here
// each. Every format question (which --format names a command takes, which format a
// file name implies, what a format can hold or needs, how --resume reads it back)
// is answered here from those descriptions, so a new format needs no edit elsewhere.
import { BackbonesError } from '../errors.js';
import { csvFormat } from './csv.js';
import { jsonFormat } from './json.js';
import { jsonlFormat } from './jsonl.js';
import { npyFormat } from './npy.js';
import { parquetFormat } from './parquet.js';
import type { RecordKind } from './records.js';
import { tableFormat } from './table.js';
import type { AsyncResumeReader, OutputFormat, ResumeReader, WriterFactory } from './writer.js';

/** In the order --help and the error messages list them. */
const FORMATS: readonly OutputFormat[] = [tableFormat, jsonlFormat, jsonFormat, csvFormat, npyFormat, parquetFormat];

/** Every format name. */
export const OUTPUT_FORMATS: readonly string[] = FORMATS.map((f) => f.name);

/** The formats that can hold a kind of record: the --format choices of classify, extract, queue export. */
export function formatsHolding(kind: RecordKind): string[] {
  return FORMATS.filter((f) => f.holds.includes(kind)).map((f) => f.name);
}

function formatOf(format: string): OutputFormat {
  const f = FORMATS.find((x) => x.name === format);
  if (!f) throw new BackbonesError('E_USAGE', `Unknown output format "${format}": valid formats are ${OUTPUT_FORMATS.join(', ')}.`);
  return f;
}

const orList = (names: string[]) => (names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}` : (names[0] ?? ''));

/** Where a run writes, as far as the format rules care. */
export interface OutputPlan {
  /** -o FILE; absent: stdout. */
  output?: string;
  /** -o names a device or FIFO (written in place, front to back). */
  special?: boolean;
  /** --resume into the file. */
  resume?: boolean;
  /** The format came from -o's extension, not from --format: messages name -o. */
  fromExtension?: boolean;
}

/**
 * Every rule of a format about a run, checked before anything is touched: a usage
 * error for an unknown format, records it cannot hold, a file it needs, or a
 * --resume it cannot continue.
 */
export function checkOutput(format: string, kind: RecordKind, plan: OutputPlan): void {
  const f = formatOf(format);
  if (!f.holds.includes(kind)) {
    if (plan.fromExtension && plan.output) {
      throw new BackbonesError('E_USAGE', `-o ${plan.output}: ${f.name} files are for ${f.holds.join(' and ')}; ${kind} writes ${orList(extensionsHolding(kind))}.`);
    }
    throw new BackbonesError('E_USAGE', `--format ${f.name} is for ${f.holds.join(' and ')}; ${kind} writes ${orList(formatsHolding(kind))}.`);
  }
  const ext = f.extensions[0] ?? f.name;
  if (f.needsFile && !plan.output) throw new BackbonesError('E_USAGE', `--format ${f.name} needs -o FILE.${ext} (${f.needsFile}).`);
  if (plan.resume) resumeReaderFor(format); // whether or not the file exists
  if (plan.output && plan.special && (f.needsFile || plan.resume)) {
    throw new BackbonesError('E_USAGE', `-o ${plan.output} is not a regular file: ${f.needsFile ? `.${ext} needs one` : '--resume needs one'}.`);
  }
}

export function writerFor(format: string): WriterFactory {
  return formatOf(format).writer;
}

/** The --resume reader of a format; a usage error for formats that cannot be continued. */
export function resumeReaderFor(format: string): ResumeReader | AsyncResumeReader {
  const reader = formatOf(format).resume;
  if (!reader) {
    const names = FORMATS.filter((f) => f.resume).map((f) => f.name);
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
  return ext ? FORMATS.find((f) => f.extensions.includes(ext))?.name : undefined;
}

/** The extensions that select a format from a file name, with dots: ".jsonl, .ndjson, …". */
export function extensionsHolding(kind: RecordKind): string[] {
  return FORMATS.filter((f) => f.holds.includes(kind)).flatMap((f) => f.extensions.map((e) => `.${e}`));
}

export type { OutputFormat, RecordWriter, ResumeState } from './writer.js';
