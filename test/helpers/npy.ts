// Reads what backbones writes, independently of its own code: .npy v1.0 float32
// files and CSV text (RFC 4180, quoted fields may hold commas and line breaks).
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

/** Parses a .npy v1.0 file: header dict, shape and float32 data (only the rows the header counts, as numpy.load). */
export function readNpy(file: string): { header: string; shape: number[]; data: Float32Array } {
  const buf = readFileSync(file);
  assert.deepEqual([...buf.subarray(0, 8)], [0x93, ...Buffer.from('NUMPY'), 1, 0]);
  const len = buf.readUInt16LE(8);
  assert.equal((10 + len) % 64, 0, 'header is 64-byte aligned');
  const header = buf.subarray(10, 10 + len).toString('latin1');
  assert.ok(header.endsWith('\n'));
  const shape = header.match(/'shape': \((\d+), (\d+)\)/)!.slice(1).map(Number);
  const count = shape[0]! * shape[1]!;
  const body = buf.subarray(10 + len, 10 + len + count * 4);
  assert.equal(body.length, count * 4, 'the file holds every row its header counts');
  const data = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  return { header, shape, data };
}

/** Rows of fields of a CSV text. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}
