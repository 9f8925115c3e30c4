// The ONNX wire format, through protobufjs and the vendored official schema
// (onnx-proto3.ts). Why protobufjs rather than the npm package onnx-proto: protobufjs is
// the maintained protobuf runtime for JS (onnx-proto is a frozen code-generated snapshot
// pinned to an old protobufjs), and parsing the official .proto text means every field
// number comes from ONNX itself, not from hand-written encoders.
//
// Messages are plain objects shaped like the schema (keepCase: snake_case field names);
// Type.encode writes them without a fromObject copy, so a 400 MB raw_data is copied once,
// into the final buffer.
import protobuf from 'protobufjs';
import { ONNX_PROTO3 } from './onnx-proto3.js';

/** TensorProto.DataType values the exporter writes. */
export const DataType = { FLOAT: 1, INT64: 7, FLOAT16: 10 } as const;

/** AttributeProto.AttributeType values the exporter writes. */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

/** The ONNX IR version and default-domain opset every exported model declares. */
export const IR_VERSION = 7;
export const OPSET = 13;

export interface TensorMsg {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

export interface AttributeMsg {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface NodeMsg {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  attribute: AttributeMsg[];
}

/** One dimension: a fixed size or a symbolic name such as 'N'. */
export type Dim = number | string;

export interface ValueInfoMsg {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: Array<{ dim_value?: number; dim_param?: string }> } } };
}

export interface GraphMsg {
  name: string;
  node: NodeMsg[];
  initializer: TensorMsg[];
  input: ValueInfoMsg[];
  output: ValueInfoMsg[];
}

export interface ModelMsg {
  ir_version: number;
  opset_import: Array<{ domain: string; version: number }>;
  producer_name: string;
  producer_version: string;
  graph: GraphMsg;
}

let modelType: protobuf.Type | undefined;

function modelProto(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO3, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

/** Serializes a ModelProto. */
export function encodeModel(model: ModelMsg): Uint8Array {
  return modelProto().encode(model as unknown as protobuf.Message).finish();
}

/** Decodes a ModelProto (tests and debugging: reading back what was written). */
export function decodeModel(bytes: Uint8Array): ModelMsg {
  return modelProto().toObject(modelProto().decode(bytes), { longs: Number, bytes: Uint8Array }) as ModelMsg;
}

// ONNX stores raw_data little-endian; typed arrays use the host's order, little-endian
// on every platform onnxruntime-node ships for (x64, arm64).
function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function floatTensor(name: string, dims: number[], data: Float32Array): TensorMsg {
  return { name, dims, data_type: DataType.FLOAT, raw_data: bytesOf(data) };
}

export function int64Tensor(name: string, dims: number[], values: number[]): TensorMsg {
  return { name, dims, data_type: DataType.INT64, raw_data: bytesOf(BigInt64Array.from(values, BigInt)) };
}

export function valueInfo(name: string, dims: Dim[]): ValueInfoMsg {
  const dim = dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim } } } };
}

/** Node attributes, tagged by type: ONNX distinguishes INT 1 from FLOAT 1.0. */
export const attr = {
  int: (name: string, i: number): AttributeMsg => ({ name, type: AttrType.INT, i }),
  ints: (name: string, ints: number[]): AttributeMsg => ({ name, type: AttrType.INTS, ints }),
  float: (name: string, f: number): AttributeMsg => ({ name, type: AttrType.FLOAT, f }),
  floats: (name: string, floats: number[]): AttributeMsg => ({ name, type: AttrType.FLOATS, floats }),
  string: (name: string, s: string): AttributeMsg => ({ name, type: AttrType.STRING, s: new TextEncoder().encode(s) }),
};
