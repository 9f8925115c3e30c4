// Reading and editing a decoded ONNX ModelProto for the quantizer: typed accessors over
// protobufjs' plain objects (repeated fields may be absent after decoding), int8/uint8/
// int32 initializers, and metadata_props.
import { decodeModel, encodeModel, type AttributeMsg, type ModelMsg, type NodeMsg, type TensorMsg } from '../proto.js';

/** TensorProto.DataType values the quantizer writes or reads. */
export const QDataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6 } as const;

export interface MetadataEntry {
  key: string;
  value: string;
}

export type QuantModel = ModelMsg & { metadata_props?: MetadataEntry[]; doc_string?: string };

export function readModel(bytes: Uint8Array): QuantModel {
  const model = decodeModel(bytes) as QuantModel;
  const g = model.graph;
  g.node ??= [];
  g.initializer ??= [];
  g.input ??= [];
  g.output ??= [];
  for (const n of g.node) {
    n.input ??= [];
    n.output ??= [];
    n.attribute ??= [];
  }
  return model;
}

export function writeModel(model: QuantModel): Uint8Array {
  return encodeModel(model);
}

/** A float32 initializer's values (copied: raw_data may be unaligned). */
export function floatData(t: TensorMsg): Float32Array {
  const raw = t.raw_data;
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return new Float32Array(copy.buffer);
}

function raw(a: Int8Array | Uint8Array | Int32Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export const tensors = {
  float: (name: string, dims: number[], data: Float32Array): TensorMsg => ({ name, dims, data_type: QDataType.FLOAT, raw_data: raw(data) }),
  int8: (name: string, dims: number[], data: Int8Array): TensorMsg => ({ name, dims, data_type: QDataType.INT8, raw_data: raw(data) }),
  uint8: (name: string, dims: number[], data: Uint8Array): TensorMsg => ({ name, dims, data_type: QDataType.UINT8, raw_data: raw(data) }),
  int32: (name: string, dims: number[], data: Int32Array): TensorMsg => ({ name, dims, data_type: QDataType.INT32, raw_data: raw(data) }),
};

export function attribute(node: NodeMsg, name: string): AttributeMsg | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function intAttribute(node: NodeMsg, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a?.i === undefined ? fallback : Number(a.i);
}

/** The Keras layer a node came from: the exporter names nodes `<layer>:<OpType>`. */
export function layerOf(node: NodeMsg): string {
  const i = node.name.lastIndexOf(':');
  return i > 0 ? node.name.slice(0, i) : node.name;
}

export function getMetadata(model: QuantModel, key: string): string | undefined {
  return model.metadata_props?.find((m) => m.key === key)?.value;
}

export function setMetadata(model: QuantModel, entries: Record<string, string>): void {
  const kept = (model.metadata_props ?? []).filter((m) => !(m.key in entries));
  model.metadata_props = [...kept, ...Object.entries(entries).map(([key, value]) => ({ key, value }))];
}
