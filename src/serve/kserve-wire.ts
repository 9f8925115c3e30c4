// The KServe v2 / Open Inference Protocol infer request and answer as bytes on the
// wire. The JSON object may be followed by raw tensors: Triton's binary tensor data
// extension, which tritonclient and KServe's client use by default for speed. The
// JSON's length is then in the Inference-Header-Content-Length header, each binary
// input says its byte count in parameters.binary_data_size (and has no "data"),
// numbers are little-endian, and a BYTES element is a 4-byte little-endian length
// followed by its bytes. Binary outputs are asked per output (parameters.binary_data)
// or for all (request parameters.binary_data_output) and answered the same way.
// https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_binary_data.md
import { float32ToString } from '../output/records.js';
import { HttpError } from './http-error.js';

export const INFER_HEADER_LENGTH = 'inference-header-content-length';

export interface WireInput {
  name: string;
  shape: number[];
  datatype: string;
  data?: unknown[];
  parameters?: { binary_data_size?: number };
}

export interface WireOutput {
  name: string;
  parameters?: { binary_data?: boolean; classification?: number };
}

export interface WireRequest {
  id?: string;
  parameters?: { binary_data_output?: boolean };
  inputs: WireInput[];
  outputs?: WireOutput[];
}

/** The JSON part of a body and the raw bytes after it. */
export function splitInferBody(body: Buffer, headerLength: string | string[] | undefined): { json: unknown; tail: Buffer } {
  let jsonBytes = body.length;
  if (headerLength !== undefined) {
    const value = String(headerLength).trim();
    if (!/^\d+$/.test(value) || Number(value) > body.length) {
      throw new HttpError(400, `Inference-Header-Content-Length must be the byte length of the JSON at the start of the body (at most ${body.length}); got "${value}".`);
    }
    jsonBytes = Number(value);
  }
  try {
    return { json: JSON.parse(body.subarray(0, jsonBytes).toString('utf8')), tail: body.subarray(jsonBytes) };
  } catch {
    throw new HttpError(400, jsonBytes === body.length ? 'The body is not valid JSON.' : `The first ${jsonBytes} bytes of the body (Inference-Header-Content-Length) are not valid JSON.`);
  }
}

/** The raw bytes of the one input: all of the tail when it declares binary_data_size, else none may follow. */
export function binaryOf(input: WireInput, tail: Buffer): Buffer | null {
  const size = input.parameters?.binary_data_size;
  if (size === undefined) {
    if (tail.length > 0) throw new HttpError(400, `${tail.length} bytes follow the JSON but input "${input.name}" declares no parameters.binary_data_size.`);
    if (input.data === undefined) throw new HttpError(400, `Input "${input.name}" has neither "data" nor parameters.binary_data_size.`);
    return null;
  }
  if (input.data !== undefined) throw new HttpError(400, `Input "${input.name}" has both "data" and parameters.binary_data_size; send one.`);
  if (size !== tail.length) {
    throw new HttpError(400, `Input "${input.name}" declares binary_data_size ${size} but ${tail.length} bytes follow the JSON (Inference-Header-Content-Length).`);
  }
  return tail;
}

/**
 * FP32 values of an input of shape `shape`, row-major: JSON data flat or nested exactly
 * as the shape (the protocol allows both), or binary. Every value must be a finite float32.
 */
export function fp32Values(input: WireInput, binary: Buffer | null, shape: number[]): Float32Array {
  const total = shape.reduce((a, b) => a * b, 1);
  const what = `FP32 input "${input.name}"`;
  if (binary) {
    if (binary.length !== total * 4) throw new HttpError(400, `${what} holds ${binary.length} bytes; shape [${shape.join(', ')}] needs ${total * 4} (4 per value).`);
    const view = new DataView(binary.buffer, binary.byteOffset, binary.byteLength);
    const out = new Float32Array(total);
    for (let i = 0; i < total; i++) {
      const v = view.getFloat32(i * 4, true);
      if (!Number.isFinite(v)) throw new HttpError(400, `${what} holds ${v} at element ${i}; values must be finite.`);
      out[i] = v;
    }
    return out;
  }
  const data = input.data!;
  const leaves = data.every((v) => !Array.isArray(v)) ? flatData(data, total, what, shape) : nestedData(data, shape, what);
  const out = new Float32Array(total);
  for (let i = 0; i < total; i++) {
    const v = leaves[i];
    if (typeof v !== 'number') throw new HttpError(400, `${what} must hold only numbers; element ${i} is ${JSON.stringify(v)}.`);
    const f = Math.fround(v);
    if (!Number.isFinite(f)) throw new HttpError(400, `${what} holds ${v} at element ${i}, beyond float32 (at most ±3.4028235e38); values must be finite float32.`);
    out[i] = f;
  }
  return out;
}

function flatData(data: unknown[], total: number, what: string, shape: number[]): unknown[] {
  if (data.length !== total) throw new HttpError(400, `${what} holds ${data.length} values; shape [${shape.join(', ')}] needs ${total}.`);
  return data;
}

/** The leaves of data nested exactly as `shape`; any other nesting is refused, never reflowed. */
function nestedData(data: unknown[], shape: number[], what: string): unknown[] {
  const leaves: unknown[] = [];
  const walk = (node: unknown, depth: number, at: string): void => {
    if (depth === shape.length) {
      if (Array.isArray(node)) throw new HttpError(400, `${what}: data${at} is nested deeper than shape [${shape.join(', ')}].`);
      leaves.push(node);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      const got = Array.isArray(node) ? `${node.length} elements` : 'a single value';
      throw new HttpError(400, `${what}: data${at} holds ${got} where shape [${shape.join(', ')}] has ${shape[depth]}; nest data exactly as the shape, or send it flat.`);
    }
    for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${at}[${i}]`);
  };
  walk(data, 0, '');
  return leaves;
}

/** The elements of a BYTES input: base64 strings in JSON, or length-prefixed raw bytes. */
export function bytesElements(input: WireInput, binary: Buffer | null, n: number): Buffer[] {
  const what = `BYTES input "${input.name}"`;
  if (!binary) {
    const data = input.data!;
    if (data.length !== n) throw new HttpError(400, `${what} holds ${data.length} elements; shape [${input.shape.join(', ')}] needs ${n}.`);
    return data.map((item, i) => {
      if (typeof item !== 'string') throw new HttpError(400, `${what}[${i}] must be a base64 string (an encoded image).`);
      return Buffer.from(item, 'base64');
    });
  }
  const out: Buffer[] = [];
  for (let at = 0; at < binary.length; ) {
    if (at + 4 > binary.length) throw new HttpError(400, `${what}: element ${out.length} is cut short (its 4-byte length prefix is incomplete).`);
    const size = binary.readUInt32LE(at);
    at += 4;
    if (at + size > binary.length) throw new HttpError(400, `${what}: element ${out.length} declares ${size} bytes but only ${binary.length - at} remain.`);
    out.push(binary.subarray(at, at + size));
    at += size;
  }
  if (out.length !== n) throw new HttpError(400, `${what} holds ${out.length} elements; shape [${input.shape.join(', ')}] needs ${n}.`);
  return out;
}

export type OutputTensor =
  | { name: string; datatype: 'FP32'; shape: number[]; rows: Float32Array[] }
  | { name: string; datatype: 'BYTES'; shape: number[]; strings: string[] };

/** The answer's bytes: plain JSON, or JSON + binary outputs with the JSON's length to send as Inference-Header-Content-Length. */
export function encodeInferAnswer(
  head: { model_name: string; model_version: string; id?: string },
  outputs: { tensor: OutputTensor; binary: boolean }[],
): { body: Buffer; headerLength: number | null } {
  const binaries: Buffer[] = [];
  const parts = outputs.map(({ tensor, binary }) => {
    const meta = `"name":${JSON.stringify(tensor.name)},"datatype":"${tensor.datatype}","shape":${JSON.stringify(tensor.shape)}`;
    if (binary) {
      const bytes = tensor.datatype === 'FP32' ? fp32Bytes(tensor.rows) : stringBytes(tensor.strings);
      binaries.push(bytes);
      return `{${meta},"parameters":{"binary_data_size":${bytes.length}}}`;
    }
    let data = '';
    if (tensor.datatype === 'FP32') {
      for (const row of tensor.rows) for (let j = 0; j < row.length; j++) data += (data ? ',' : '') + float32ToString(row[j]!);
    } else {
      data = tensor.strings.map((s) => JSON.stringify(s)).join(',');
    }
    return `{${meta},"data":[${data}]}`;
  });
  const json = Buffer.from(`${JSON.stringify(head).slice(0, -1)},"outputs":[${parts.join(',')}]}`);
  if (binaries.length === 0) return { body: json, headerLength: null };
  return { body: Buffer.concat([json, ...binaries]), headerLength: json.length };
}

function fp32Bytes(rows: Float32Array[]): Buffer {
  const total = rows.reduce((s, r) => s + r.length, 0);
  const out = Buffer.alloc(total * 4);
  let at = 0;
  for (const row of rows) for (let j = 0; j < row.length; j++, at += 4) out.writeFloatLE(row[j]!, at);
  return out;
}

function stringBytes(strings: string[]): Buffer {
  return Buffer.concat(
    strings.flatMap((s) => {
      const bytes = Buffer.from(s, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }),
  );
}
