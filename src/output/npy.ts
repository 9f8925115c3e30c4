// NumPy .npy (format version 1.0): an N×D little-endian float32 array that
// numpy.load reads, plus sidecars: <file>.paths.jsonl (one JSON string per line:
// the path of each row, in row order; JSON escapes line breaks in names) and
// <file>.errors.jsonl (the inputs that failed). The header is written with room for
// any N and rewritten after every row, so the partial file of a killed run loads
// (and --resume continues it) up to the last whole row.
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { BackbonesError } from '../errors.js';
import { completeLines } from './jsonl.js';
import { isError } from './records.js';
import { partialPath, resumeSource } from './staged.js';
import type { Sink } from './sink.js';
import type { OutputFormat, ResumeReader, ResumeState, WriterFactory } from './writer.js';

/** Total header size (magic + version + length + dict), a multiple of 64 with room for any N. */
const HEADER_BYTES = 128;

export function npyHeader(rows: number, cols: number): Uint8Array {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const pad = HEADER_BYTES - 10 - dict.length - 1;
  if (pad < 0) throw new Error('npy header too long');
  const header = new Uint8Array(HEADER_BYTES);
  header.set([0x93, ...Buffer.from('NUMPY'), 1, 0]);
  new DataView(header.buffer).setUint16(8, HEADER_BYTES - 10, true);
  header.set(Buffer.from(dict + ' '.repeat(pad) + '\n'), 10);
  return header;
}

export function sidecarPaths(file: string): { paths: string; errors: string } {
  return { paths: `${file}.paths.jsonl`, errors: `${file}.errors.jsonl` };
}

/** Every file an npy output consists of, the main file first. */
export function npyFiles(file: string): string[] {
  const side = sidecarPaths(file);
  return [file, side.paths, side.errors];
}

export const npyWriter: WriterFactory = (sink: Sink, { kind, appending, resumed, open, file }) => {
  // What it can hold and that it needs a file are the registry's rules (checkOutput); here only the wiring is checked.
  if (kind !== 'extract' || !file || !sink.writeAt || !open) throw new Error('the npy writer needs extract records, a file sink and its sidecars');
  const side = sidecarPaths(file);
  const paths = open(side.paths, { append: appending });
  let errors: Sink | undefined;
  let rows = appending ? (resumed?.rows ?? 0) : 0;
  let cols = appending ? (resumed?.columns ?? -1) : -1;
  if (!appending) sink.write(npyHeader(0, 0));
  return {
    write: (record) => {
      if (isError(record)) {
        errors ??= open(side.errors, {});
        errors.write(JSON.stringify(record) + '\n');
        return;
      }
      if (!('vector' in record)) return;
      if (cols === -1) cols = record.vector.length;
      if (record.vector.length !== cols) {
        throw new BackbonesError('E_USAGE', `${file} has ${cols} values per row; ${record.path} gives ${record.vector.length} (a different layer or model?).`);
      }
      const v = record.vector;
      sink.write(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      paths.write(JSON.stringify(record.path) + '\n');
      rows += 1;
      // Row first, then its path, then the count: a kill between them leaves a header that counts whole rows only.
      sink.writeAt!(npyHeader(rows, cols), 0);
    },
    close: async () => {
      sink.writeAt!(npyHeader(rows, Math.max(cols, 0)), 0);
      await Promise.all([sink.close(), paths.close(), errors?.close()]);
    },
  };
};

/** Shape and header length of a .npy file this writer could have written; null if it is not one. */
export function readNpyHeader(file: string): { rows: number; cols: number; headerBytes: number; size: number } | null {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 4096));
    readSync(fd, head, 0, head.length, 0);
    if (head.length < 10 || head[0] !== 0x93 || head.subarray(1, 6).toString('latin1') !== 'NUMPY' || head[6] !== 1) return null;
    const len = head.readUInt16LE(8);
    if (10 + len > head.length) return null;
    const dict = head.subarray(10, 10 + len).toString('latin1');
    const m = dict.match(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \((\d+), (\d+)\), \}\s*$/);
    if (!m) return null;
    return { rows: Number(m[1]), cols: Number(m[2]), headerBytes: 10 + len, size };
  } finally {
    closeSync(fd);
  }
}

export const readNpyResume: ResumeReader = (file) => {
  const source = resumeSource(file);
  const fromPartial = source === partialPath(file);
  const state: ResumeState = { done: new Set(), files: [], fromPartial };
  if (!source) return state;
  const header = readNpyHeader(source);
  if (!header) {
    throw new BackbonesError('E_USAGE', `--resume: ${source} is not a 2-D float32 .npy file written by backbones, so it was left as it is.`);
  }
  if (header.rows === 0) return state; // nothing to keep: start afresh
  const keepBytes = header.headerBytes + header.rows * header.cols * 4;
  if (header.size < keepBytes) {
    throw new BackbonesError('E_USAGE', `--resume: ${source} is shorter than its header says (${header.rows}×${header.cols}), so it was left as it is.`);
  }
  // The paths sidecar that goes with the source: the partial one of a killed run, else the finished one.
  const pathsFile = sidecarPaths(file).paths;
  const pathsSource = fromPartial && existsSync(partialPath(pathsFile)) ? partialPath(pathsFile) : pathsFile;
  if (!existsSync(pathsSource)) {
    throw new BackbonesError('E_USAGE', `--resume: ${pathsSource} (the path of each row of ${source}) is missing, so the rows cannot be matched to inputs.`);
  }
  const { lines } = completeLines(pathsSource);
  if (lines.length < header.rows) {
    throw new BackbonesError('E_USAGE', `--resume: ${pathsSource} lists ${lines.length} paths for ${header.rows} rows, so the rows cannot be matched to inputs.`);
  }
  let pathBytes = 0;
  for (const line of lines.slice(0, header.rows)) {
    let p: unknown;
    try {
      p = JSON.parse(line);
    } catch {
      p = undefined;
    }
    if (typeof p !== 'string') throw new BackbonesError('E_USAGE', `--resume: ${pathsSource} holds a line that is not a JSON string, so it was left as it is.`);
    state.done.add(p);
    pathBytes += Buffer.byteLength(line) + 1;
  }
  state.rows = header.rows;
  state.columns = header.cols;
  state.files.push({ file, source, keepBytes }, { file: pathsFile, source: pathsSource, keepBytes: pathBytes });
  return state;
};

export const npyFormat: OutputFormat = {
  name: 'npy',
  extensions: ['npy'],
  // Fixed-width float32 rows: feature vectors, not top-k labels.
  holds: ['extract'],
  needsFile: 'it writes a header at the end and sidecar files',
  writer: npyWriter,
  resume: readNpyResume,
  files: npyFiles,
};
