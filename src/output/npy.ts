// NumPy .npy (format version 1.0): an N×D little-endian float32 array that
// numpy.load reads, plus a sidecar listing the paths in row order
// (<file>.paths.txt) and the inputs that failed (<file>.errors.jsonl). N is only
// known at the end, so the header is written with room to spare and rewritten on close.
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
import { BackbonesError } from '../errors.js';
import { isError } from './records.js';
import { fileSink, type Sink } from './sink.js';
import type { WriterFactory } from './writer.js';

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
  return { paths: `${file}.paths.txt`, errors: `${file}.errors.jsonl` };
}

export const npyWriter: WriterFactory = (sink: Sink, { kind, appending }) => {
  if (kind !== 'extract') throw new BackbonesError('E_USAGE', '--format npy is for extract.');
  if (sink.target === '-' || !sink.writeAt) throw new BackbonesError('E_USAGE', '--format npy needs -o FILE.npy (it writes a header at the end and sidecar files).');
  if (appending) throw new BackbonesError('E_USAGE', '--resume works with jsonl and csv output, not npy (its header holds the row count).');
  const side = sidecarPaths(sink.target);
  const paths = fileSink(side.paths);
  let errors: Sink | undefined;
  let rows = 0;
  let cols = -1;
  sink.write(npyHeader(0, 0));
  return {
    write: (record) => {
      if (isError(record)) {
        errors ??= fileSink(side.errors);
        errors.write(JSON.stringify(record) + '\n');
        return;
      }
      if (!('vector' in record)) return;
      if (cols === -1) cols = record.vector.length;
      if (record.vector.length !== cols) {
        throw new BackbonesError('E_INTERNAL', `npy rows must have one width: ${record.path} has ${record.vector.length} values, earlier rows ${cols}.`);
      }
      const v = record.vector;
      sink.write(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      paths.write(record.path + '\n');
      rows += 1;
    },
    close: async () => {
      sink.writeAt!(npyHeader(rows, Math.max(cols, 0)), 0);
      await Promise.all([sink.close(), paths.close(), errors?.close()]);
    },
  };
};
