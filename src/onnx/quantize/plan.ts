// Which nodes run on int8 and which tensors get a QuantizeLinear/DequantizeLinear pair.
// The placement follows what ONNX Runtime's QDQ fusions need to turn the pairs into
// integer kernels (a pair that stays unfused is pure cost):
//  - a quantized Conv gets DQ on its input, weight and bias and Q on its output
//    (-> QLinearConv). When the Conv feeds only a Relu/Clip, the Q goes after that
//    activation: ORT drops a Relu/Clip whose range the Q already enforces, leaving
//    DQ -> Conv -> Q.
//  - Add, Concat, AveragePool, GlobalAveragePool with quantized inputs get a Q on
//    their output too (-> QLinearAdd, QLinearConcat, QLinearAveragePool...).
//  - MaxPool, Pad, Transpose, Reshape, Flatten between quantized tensors reuse their
//    input's scale and zero point, so ORT can run them on the uint8 data directly.
// Layers kept in float: Dense/MatMul (Gemm) always; the first conv, depthwise convs and
// the classifier (the last weighted layer) as the policy says.
import type { GraphMsg, NodeMsg } from '../proto.js';
import { intAttribute, layerOf } from './model.js';

export interface QuantizePolicy {
  /** Quantize the first conv (it sees raw pixels; often the most sensitive). */
  firstConv: boolean;
  /** Quantize depthwise convs (one filter per channel: per-channel scales matter most). */
  depthwise: boolean;
  /** Quantize the last weighted layer when it is a conv (MobileNet v1's conv_preds). */
  classifier: boolean;
  /** Layer names (Keras) kept in float whatever the rules above say. */
  keep?: string[];
}

// Defaults from bench/int8-accuracy.ts (bench/RESULTS.md): the first conv in fp32 lifted InceptionV3's
// feature cosine from 0.984 to 0.994 (worst 0.78 -> 0.92) at no measurable speed cost (it sees
// raw pixels and is ~1-3 % of the work); depthwise convs in fp32 made MobileNets slower than fp32.
export const DEFAULT_POLICY: QuantizePolicy = { firstConv: false, depthwise: true, classifier: false };

const ACTIVATIONS = new Set(['Relu', 'Clip']);
const INTEGER_OPS = new Set(['Add', 'Concat', 'AveragePool', 'GlobalAveragePool']);
const PASS_THROUGH = new Set(['MaxPool', 'Pad', 'Transpose', 'Reshape', 'Flatten']);
const WEIGHTED = new Set(['Conv', 'Gemm', 'MatMul']);

export type TensorQuant = { kind: 'calibrated' } | { kind: 'shared'; with: string };

export interface KeptLayer {
  layer: string;
  op: string;
  why: string;
}

export interface QuantPlan {
  /** Conv nodes (by output name) that become integer kernels. */
  convs: Set<string>;
  /** Tensor -> how its scale is found, in topological order. */
  tensors: Map<string, TensorQuant>;
  /** Weighted layers left in float, and why. */
  kept: KeptLayer[];
}

export class UnquantizableModelError extends Error {}

function isDepthwise(node: NodeMsg, weightDims: number[] | undefined): boolean {
  const group = intAttribute(node, 'group', 1);
  return group > 1 && weightDims !== undefined && weightDims[1] === 1 && weightDims[0]! % group === 0;
}

export function planQuantization(graph: GraphMsg, policy: QuantizePolicy): QuantPlan {
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const consumers = new Map<string, NodeMsg[]>();
  for (const n of graph.node) for (const i of n.input) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const graphOutputs = new Set(graph.output.map((o) => o.name));

  const weighted = graph.node.filter((n) => WEIGHTED.has(n.op_type) && initializers.has(n.input[1] ?? ''));
  const first = weighted[0];
  const last = weighted[weighted.length - 1];
  const convs = new Set<string>();
  const kept: KeptLayer[] = [];
  for (const n of weighted) {
    const keep = (why: string) => kept.push({ layer: layerOf(n), op: n.op_type, why });
    if (n.op_type !== 'Conv') keep('dense layers stay float (a small share of the work; ORT has no per-channel integer Gemm here)');
    else if (policy.keep?.includes(layerOf(n))) keep('asked to stay float');
    else if (n === last && !policy.classifier) keep('classifier');
    else if (n === first && !policy.firstConv) keep('first conv');
    else if (!policy.depthwise && isDepthwise(n, initializers.get(n.input[1]!)?.dims.map(Number))) keep('depthwise conv');
    else convs.add(n.output[0]!);
  }
  if (convs.size === 0) throw new UnquantizableModelError('the model has no convolution the quantizer can turn into an integer kernel');

  const tensors = new Map<string, TensorQuant>();
  const isActivation = (t: string) => !initializers.has(t);
  /** Where the Q goes for a node's output: after a sole Relu/Clip consumer if any. */
  const quantizedOutput = (n: NodeMsg): string => {
    const out = n.output[0]!;
    const next = consumers.get(out) ?? [];
    if (next.length === 1 && ACTIVATIONS.has(next[0]!.op_type) && !graphOutputs.has(out)) return next[0]!.output[0]!;
    return out;
  };

  for (const n of graph.node) {
    if (n.op_type === 'Conv' && convs.has(n.output[0]!)) {
      const x = n.input[0]!;
      if (!tensors.has(x)) tensors.set(x, { kind: 'calibrated' });
      tensors.set(quantizedOutput(n), { kind: 'calibrated' });
    } else if (INTEGER_OPS.has(n.op_type)) {
      const inputs = n.input.filter(isActivation);
      if (inputs.length > 0 && inputs.every((i) => tensors.has(i))) tensors.set(quantizedOutput(n), { kind: 'calibrated' });
    } else if (PASS_THROUGH.has(n.op_type) && tensors.has(n.input[0]!)) {
      tensors.set(n.output[0]!, { kind: 'shared', with: n.input[0]! });
    }
  }

  // A shared (pass-through) tensor whose consumers all stay float only adds a Q/DQ pair:
  // drop it (repeat, as dropping one can orphan the one before).
  const usesQuantized = (n: NodeMsg): boolean =>
    (n.op_type === 'Conv' && convs.has(n.output[0]!)) ||
    ((INTEGER_OPS.has(n.op_type) || PASS_THROUGH.has(n.op_type)) && tensors.has(n.output[0]!)) ||
    (ACTIVATIONS.has(n.op_type) && tensors.has(n.output[0]!));
  for (let changed = true; changed; ) {
    changed = false;
    for (const [t, q] of tensors) {
      if (q.kind !== 'shared') continue;
      if (!(consumers.get(t) ?? []).some(usesQuantized)) {
        tensors.delete(t);
        changed = true;
      }
    }
  }
  return { convs, tensors, kept };
}

/** The tensors whose ranges calibration must measure. */
export function calibratedTensors(plan: QuantPlan): string[] {
  return [...plan.tensors].filter(([, q]) => q.kind === 'calibrated').map(([t]) => t);
}
