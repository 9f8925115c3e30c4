// Rewrites a float ONNX graph into a QDQ graph following a QuantPlan: uint8 asymmetric
// activations (QuantizeLinear -> DequantizeLinear on each planned tensor), int8
// symmetric per-output-channel conv weights and int32 biases behind DequantizeLinear.
// ONNX Runtime's graph optimizer then fuses each DQ -> Conv -> Q into QLinearConv.
import type { GraphMsg, NodeMsg, TensorMsg } from '../proto.js';
import { floatData, tensors, type QuantModel } from './model.js';
import type { QuantPlan } from './plan.js';
import type { Range } from './ranges.js';

export interface ActivationParams {
  scale: number;
  zeroPoint: number;
}

/**
 * uint8 parameters covering [min, max] and exact zero (padding and ReLU outputs must
 * stay exactly 0). A non-negative range gets zero point 0, which is what lets ORT drop
 * the Relu/Clip in front of the Q.
 */
export function activationParams(r: Range): ActivationParams {
  const min = Math.min(r.min, 0);
  const max = Math.max(r.max, 0);
  if (!(max > min)) return { scale: 1, zeroPoint: 0 };
  const scale = Math.fround((max - min) / 255);
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-min / scale)));
  return { scale, zeroPoint };
}

export interface WeightOptions {
  /** 8: int8 [-127, 127]; 7: [-63, 63], for CPUs whose u8*s8 kernels can saturate (AVX2 without VNNI). */
  weightBits: 7 | 8;
}

/**
 * Per output channel (axis 0) symmetric int8: scale_c = max|w_c| / qmax, but never below
 * minScales[c]. Why the floor: a channel whose weights are all but zero (BatchNorm folded
 * into a dead filter) can still carry a large bias; the int32 bias uses scale
 * weight_scale * input_scale and would overflow, silently replacing the bias by ~0.
 */
export function quantizeWeights(w: Float32Array, channels: number, bits: 7 | 8, minScales?: Float32Array): { q: Int8Array; scales: Float32Array } {
  const qmax = bits === 8 ? 127 : 63;
  const per = w.length / channels;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let m = 0;
    for (let i = c * per; i < (c + 1) * per; i++) m = Math.max(m, Math.abs(w[i]!));
    const floor = minScales?.[c] ?? 0;
    const s = m > 0 || floor > 0 ? Math.fround(Math.max(m / qmax, floor)) : 1;
    scales[c] = s;
    for (let i = c * per; i < (c + 1) * per; i++) q[i] = Math.max(-qmax, Math.min(qmax, Math.round(w[i]! / s)));
  }
  return { q, scales };
}

class Names {
  private readonly taken = new Set<string>();
  constructor(graph: GraphMsg) {
    for (const n of graph.node) for (const t of [...n.input, ...n.output, n.name]) this.taken.add(t);
    for (const t of graph.initializer) this.taken.add(t.name);
    for (const v of [...graph.input, ...graph.output]) this.taken.add(v.name);
  }
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.taken.has(name); k++) name = `${base}_${k}`;
    this.taken.add(name);
    return name;
  }
}

const FLOAT_WEIGHTED = new Set(['Conv', 'Gemm']);

/** Channels of a Conv's input (weight [O, I/group, kh, kw]) or features of a Gemm's [N, F] input. */
function inputChannels(node: NodeMsg, initializers: Map<string, TensorMsg>): number {
  const dims = initializers.get(node.input[1]!)?.dims.map(Number);
  if (!dims) throw new Error(`internal: ${node.name} has no weight initializer`);
  if (node.op_type === 'Conv') {
    const group = node.attribute.find((a) => a.name === 'group')?.i;
    return dims[1]! * (group === undefined ? 1 : Number(group));
  }
  const transB = Number(node.attribute.find((a) => a.name === 'transB')?.i ?? 0);
  return transB ? dims[1]! : dims[0]!;
}

export interface QdqResult {
  /** Activation parameters per quantized tensor. */
  params: Map<string, ActivationParams>;
}

/** Rewrites `model` in place. `ranges` must hold every calibrated tensor of the plan. */
export function applyQdq(model: QuantModel, plan: QuantPlan, ranges: Map<string, Range>, opts: WeightOptions): QdqResult {
  const graph = model.graph;
  const names = new Names(graph);
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const added: TensorMsg[] = [];

  const params = new Map<string, ActivationParams>();
  const resolve = (t: string): ActivationParams => {
    const known = params.get(t);
    if (known) return known;
    const q = plan.tensors.get(t)!;
    let p: ActivationParams;
    if (q.kind === 'shared') p = resolve(q.with);
    else {
      const r = ranges.get(t);
      if (!r) throw new Error(`internal: no calibration range for tensor ${t}`);
      p = activationParams(r);
    }
    params.set(t, p);
    return p;
  };
  for (const t of plan.tensors.keys()) resolve(t);

  // Activation pairs: t -> Q -> t_quantized -> DQ -> t_dequantized; consumers read the latter.
  const pairs = new Map<string, { nodes: NodeMsg[]; dequantized: string }>();
  for (const [t, p] of params) {
    const scale = names.unique(`${t}_scale`);
    const zp = names.unique(`${t}_zero_point`);
    added.push(tensors.float(scale, [], Float32Array.of(p.scale)), tensors.uint8(zp, [], Uint8Array.of(p.zeroPoint)));
    const quantized = names.unique(`${t}_quantized`);
    const dequantized = names.unique(`${t}_dequantized`);
    pairs.set(t, {
      dequantized,
      nodes: [
        { op_type: 'QuantizeLinear', input: [t, scale, zp], output: [quantized], name: names.unique(`${t}:QuantizeLinear`), attribute: [] },
        { op_type: 'DequantizeLinear', input: [quantized, scale, zp], output: [dequantized], name: names.unique(`${t}:DequantizeLinear`), attribute: [] },
      ],
    });
  }

  const out: NodeMsg[] = [];
  const usedFloat = new Set<string>();
  const emitPairsFor = (tensorsOut: string[]) => {
    for (const t of tensorsOut) {
      const pair = pairs.get(t);
      if (pair) out.push(...pair.nodes);
    }
  };
  // The graph input itself is never quantized, but keep the hook uniform.
  emitPairsFor(graph.input.map((i) => i.name));

  for (const node of graph.node) {
    const inputs = node.input.map((i) => pairs.get(i)?.dequantized ?? i);
    if (FLOAT_WEIGHTED.has(node.op_type) && !plan.convs.has(node.output[0]!) && pairs.has(node.input[0]!)) {
      // A float Conv/Gemm fed straight by a per-tensor DequantizeLinear is requantized by
      // ORT's WeightBiasQuantization with *per-tensor* int8 weights (fatal for depthwise
      // filters). A per-channel DQ of the same values keeps it float.
      const channels = inputChannels(node, initializers);
      const p = params.get(node.input[0]!)!;
      const source = pairs.get(node.input[0]!)!.nodes[0]!.output[0]!;
      const scale = names.unique(`${node.input[0]}_scale_per_channel`);
      const zp = names.unique(`${node.input[0]}_zero_point_per_channel`);
      const dequantized = names.unique(`${node.input[0]}_dequantized_for_float`);
      added.push(tensors.float(scale, [channels], new Float32Array(channels).fill(p.scale)), tensors.uint8(zp, [channels], new Uint8Array(channels).fill(p.zeroPoint)));
      out.push({ op_type: 'DequantizeLinear', input: [source, scale, zp], output: [dequantized], name: names.unique(`${node.input[0]}:DequantizeLinear`), attribute: [{ name: 'axis', type: 2, i: 1 }] });
      inputs[0] = dequantized;
    }
    if (node.op_type === 'Conv' && plan.convs.has(node.output[0]!)) {
      const x = params.get(node.input[0]!)!;
      const weight = initializers.get(node.input[1]!)!;
      const dims = weight.dims.map(Number);
      const channels = dims[0]!;
      const biasName = node.input[2];
      const bias = biasName ? floatData(initializers.get(biasName)!) : undefined;
      // |bias| / (weight_scale * x_scale) must stay within int32 (2^30 leaves headroom).
      const minScales = bias ? bias.map((b) => Math.abs(b) / (x.scale * 2 ** 30)) : undefined;
      const { q, scales } = quantizeWeights(floatData(weight), channels, opts.weightBits, minScales);
      const wq = names.unique(`${weight.name}_quantized`);
      const ws = names.unique(`${weight.name}_scale`);
      const wz = names.unique(`${weight.name}_zero_point`);
      const wd = names.unique(`${weight.name}_dequantized`);
      added.push(tensors.int8(wq, dims, q), tensors.float(ws, [channels], scales), tensors.int8(wz, [channels], new Int8Array(channels)));
      out.push({ op_type: 'DequantizeLinear', input: [wq, ws, wz], output: [wd], name: names.unique(`${weight.name}:DequantizeLinear`), attribute: [{ name: 'axis', type: 2, i: 0 }] });
      inputs[1] = wd;
      if (biasName && bias) {
        const bscale = scales.map((s) => Math.fround(s * x.scale));
        const bq = Int32Array.from(bias, (b, c) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b / bscale[c]!))));
        const bqn = names.unique(`${biasName}_quantized`);
        const bsn = names.unique(`${biasName}_scale`);
        const bzn = names.unique(`${biasName}_zero_point`);
        const bdn = names.unique(`${biasName}_dequantized`);
        added.push(tensors.int32(bqn, [channels], bq), tensors.float(bsn, [channels], bscale), tensors.int32(bzn, [channels], new Int32Array(channels)));
        out.push({ op_type: 'DequantizeLinear', input: [bqn, bsn, bzn], output: [bdn], name: names.unique(`${biasName}:DequantizeLinear`), attribute: [{ name: 'axis', type: 2, i: 0 }] });
        inputs[2] = bdn;
      }
    }
    for (const i of inputs) usedFloat.add(i);
    out.push({ ...node, input: inputs });
    emitPairsFor(node.output);
  }
  for (const n of out) for (const i of n.input) usedFloat.add(i);
  for (const o of graph.output) usedFloat.add(o.name);

  graph.node = out;
  graph.initializer = [...graph.initializer.filter((t) => usedFloat.has(t.name)), ...added];
  return { params };
}
