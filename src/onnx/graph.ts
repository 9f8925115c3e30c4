// Accumulates ONNX nodes and initializers with unique value names, then assembles the
// ModelProto. Knows nothing about Keras: the exporter and the reference benchmark both
// build graphs with it.
import {
  IR_VERSION,
  OPSET,
  encodeModel,
  floatTensor,
  int64Tensor,
  valueInfo,
  type AttributeMsg,
  type Dim,
  type ModelMsg,
  type NodeMsg,
  type TensorMsg,
  type ValueInfoMsg,
} from './proto.js';

export class GraphBuilder {
  readonly nodes: NodeMsg[] = [];
  readonly initializers: TensorMsg[] = [];
  readonly inputs: ValueInfoMsg[] = [];
  readonly outputs: ValueInfoMsg[] = [];
  private readonly taken = new Set<string>();
  /** Constant values -> the initializer already holding them. */
  private readonly constCache = new Map<string, string>();

  /** Keeps names (the graph's input and outputs) away from uniqueName(). */
  reserve(...names: string[]): void {
    for (const n of names) this.taken.add(n);
  }

  /** `base`, or `base_1`, `base_2`… when taken. */
  uniqueName(base: string): string {
    let name = base;
    for (let k = 1; this.taken.has(name); k++) name = `${base}_${k}`;
    this.taken.add(name);
    return name;
  }

  addInput(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, dims));
    return name;
  }

  addOutput(name: string, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, dims));
  }

  /** A float32 initializer (weights); returns its value name. */
  floats(base: string, dims: number[], data: Float32Array): string {
    const name = this.uniqueName(base);
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  /** A constant int64 vector (shapes, pads, perms), shared by every node that needs the same values. */
  int64s(base: string, values: number[]): string {
    const key = `i64:${values.join(',')}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = this.uniqueName(base);
    this.initializers.push(int64Tensor(name, [values.length], values));
    this.constCache.set(key, name);
    return name;
  }

  /** A float32 scalar constant (Clip bounds), shared like int64s(). */
  scalar(base: string, value: number): string {
    const key = `f32:${Math.fround(value)}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = this.uniqueName(base);
    this.initializers.push(floatTensor(name, [], Float32Array.of(value)));
    this.constCache.set(key, name);
    return name;
  }

  /**
   * Appends a node; returns its output name. `output` is taken as is when given (it must
   * already be unique or reserved), else made unique from `name`.
   */
  node(opType: string, inputs: string[], name: string, attributes: AttributeMsg[] = [], output?: string): string {
    const out = output ?? this.uniqueName(name);
    this.nodes.push({ op_type: opType, input: inputs, output: [out], name: this.uniqueName(`${name}:${opType}`), attribute: attributes });
    return out;
  }

  toModel(graphName: string, producerVersion: string): ModelMsg {
    return {
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: 'backbones',
      producer_version: producerVersion,
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
  }

  encode(graphName: string, producerVersion: string): Uint8Array {
    return encodeModel(this.toModel(graphName, producerVersion));
  }
}
