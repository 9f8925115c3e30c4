// --precision fp16: the exported float32 graph rewritten to compute in float16 (half the
// memory traffic, and the GPU's fp16 arithmetic), with float32 input and outputs so
// callers see no change. Some nodes stay float32 (the policy): their inputs are cast up
// and their outputs cast down again, once per value.
//
// Works on the in-memory ModelMsg the exporter builds, whose every node output is a float
// tensor (the exporter emits no integer-producing op); integer initializers (shapes,
// pads) are left alone.
import { Float16Array } from '@petamoriken/float16';
import { OnnxExportError } from './errors.js';
import { DataType, attr, type ModelMsg, type NodeMsg, type TensorMsg } from './proto.js';

/** Bumped whenever the fp16 graph made from the same export changes (it keys the cache). */
export const FP16_VERSION = 1;

export interface Fp16Policy {
  /** ONNX op types computed in float32 wherever they are. */
  keepOps: string[];
  /** Keep the classifier (the last weighted node before the model's output) in float32: its long dot products accumulate there. */
  keepClassifier: boolean;
}

/**
 * Softmax (exp of logits: fp16's range and its 3 decimal digits hurt most there), the global
 * average pool (it sums a whole feature map before dividing: 49 values of 2,000 overflow
 * fp16's 65,504, as ResNet50 with random weights showed) and the classifier (a 1024-4096-long
 * accumulation) in float32: together under 1 % of any zoo model's work.
 */
export const DEFAULT_FP16_POLICY: Fp16Policy = { keepOps: ['Softmax', 'GlobalAveragePool'], keepClassifier: true };

/** Ops that only move or rename data: they compute in whatever type their input has. */
const PASSTHROUGH = new Set(['Identity', 'Reshape', 'Flatten', 'Transpose', 'Squeeze', 'Unsqueeze']);
const WEIGHTED = new Set(['Conv', 'Gemm', 'MatMul']);
/** Ops whose outputs are not floats: the exporter never emits them, and this pass could not type them. */
const NON_FLOAT_OUTPUTS = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'NonZero', 'TopK', 'Cast', 'ConstantOfShape']);

type Domain = 'fp16' | 'fp32';

/** float32 → float16 bits, rounding to nearest even (IEEE 754), by @petamoriken/float16. */
export function float16Bits(values: Float32Array): Uint16Array {
  return new Uint16Array(new Float16Array(values).buffer);
}

function asFloat32(t: TensorMsg): Float32Array {
  const b = t.raw_data;
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  return new Float32Array(b.slice().buffer);
}

function toFp16Tensor(t: TensorMsg, name: string): TensorMsg {
  const bits = float16Bits(asFloat32(t));
  return { name, dims: t.dims, data_type: DataType.FLOAT16, raw_data: new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength) };
}

/** The classifier: walking back from the model's output through data-moving ops and the kept ones, the first weighted node. */
function classifierNode(nodes: NodeMsg[], output: string, keepOps: Set<string>): NodeMsg | undefined {
  const producer = new Map<string, NodeMsg>();
  for (const n of nodes) for (const o of n.output) producer.set(o, n);
  let node = producer.get(output);
  const transparent = (op: string) => PASSTHROUGH.has(op) || keepOps.has(op) || op === 'Add';
  while (node && !WEIGHTED.has(node.op_type) && transparent(node.op_type)) node = producer.get(node.input[0]!);
  return node && WEIGHTED.has(node.op_type) ? node : undefined;
}

/**
 * The fp16 version of an exported model. The graph input and every graph output stay
 * float32 (a Cast at each end); kept nodes compute in float32 (`keptFloat32`: their names).
 */
export function toFloat16(model: ModelMsg, policy: Fp16Policy = DEFAULT_FP16_POLICY): { model: ModelMsg; keptFloat32: string[] } {
  const g = model.graph;
  const keepOps = new Set(policy.keepOps);
  const outputs = new Set(g.output.map((o) => o.name));
  const classifier = policy.keepClassifier && g.output[0] ? classifierNode(g.node, g.output[0].name, keepOps) : undefined;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const taken = new Set<string>([...g.node.flatMap((n) => [...n.input, ...n.output, n.name]), ...inits.keys(), ...g.input.map((i) => i.name)]);
  const unique = (base: string) => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };

  // Each float value's domain: graph inputs are fp32; node outputs get their node's.
  const domain = new Map<string, Domain>(g.input.map((i) => [i.name, 'fp32' as Domain]));
  const isFloatInit = (name: string) => inits.get(name)?.data_type === DataType.FLOAT;
  const nodes: NodeMsg[] = [];
  const keptFloat32: string[] = [];
  const casts = new Map<string, string>();
  const cast = (value: string, to: Domain): string => {
    const key = `${value}>${to}`;
    let name = casts.get(key);
    if (!name) {
      name = unique(`${value}_${to}`);
      nodes.push({ op_type: 'Cast', input: [value], output: [name], name: unique(`${name}:Cast`), attribute: [attr.int('to', to === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT)] });
      domain.set(name, to);
      casts.set(key, name);
    }
    return name;
  };
  // Float initializers: converted once per domain that reads them (a shared Clip bound may serve both).
  const halfInits = new Map<string, string>();
  const usedAsFloat32 = new Set<string>();
  const initFor = (name: string, to: Domain): string => {
    if (to === 'fp32') {
      usedAsFloat32.add(name);
      return name;
    }
    let half = halfInits.get(name);
    if (!half) {
      half = unique(`${name}_fp16`);
      halfInits.set(name, half);
    }
    return half;
  };

  for (const node of g.node) {
    if (NON_FLOAT_OUTPUTS.has(node.op_type)) throw new OnnxExportError(`fp16: op ${node.op_type} (node ${node.name}) is not supported`);
    const data = node.input[0];
    const graphOutput = node.output.some((o) => outputs.has(o));
    let d: Domain;
    if (keepOps.has(node.op_type) || node === classifier) {
      d = 'fp32';
      keptFloat32.push(node.name.replace(/:[A-Za-z]+$/, ''));
    } else if (graphOutput) d = 'fp32';
    else if (PASSTHROUGH.has(node.op_type) && data !== undefined && !isFloatInit(data)) d = domain.get(data) === 'fp32' && !g.input.some((i) => i.name === data) ? 'fp32' : 'fp16';
    else d = 'fp16';
    if (graphOutput && node.op_type === 'Identity' && domain.get(data!) === 'fp16') {
      // An output of fp16 data: one Cast that writes the output itself, instead of Cast + Identity.
      nodes.push({ ...node, op_type: 'Cast', name: unique(node.name.replace(/:Identity$/, ':Cast')), attribute: [attr.int('to', DataType.FLOAT)] });
    } else {
      const input = node.input.map((name) => {
        if (name === '') return name;
        if (inits.has(name)) return isFloatInit(name) ? initFor(name, d) : name;
        const from = domain.get(name);
        if (from === undefined) throw new OnnxExportError(`fp16: value ${name} used before it is produced`);
        return from === d ? name : cast(name, d);
      });
      nodes.push({ ...node, input });
    }
    for (const o of node.output) domain.set(o, d);
  }

  const initializer: TensorMsg[] = [];
  for (const t of g.initializer) {
    const half = halfInits.get(t.name);
    if (half) initializer.push(toFp16Tensor(t, half));
    if (!half || usedAsFloat32.has(t.name) || !isFloatInit(t.name)) initializer.push(t);
  }
  return { model: { ...model, graph: { ...g, node: nodes, initializer } }, keptFloat32 };
}
