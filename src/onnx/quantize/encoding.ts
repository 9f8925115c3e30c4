// How an int8 model stores its weights, and the lossless change between the two
// encodings ONNX Runtime runs: int8 q with zero point z, or uint8 q + 128 with zero point
// z + 128. Both dequantize to the same (q - z) * scale; they differ only in the kernel ORT
// picks (u8 x s8 or u8 x u8), and so in whether the CPU computes them exactly (mlas.ts).
import type { NodeMsg, TensorMsg } from '../proto.js';
import { QDataType, intAttribute, layerOf, type QuantModel } from './model.js';

export type WeightEncoding = 's8' | 'u8';
export const WEIGHT_ENCODINGS: readonly WeightEncoding[] = ['s8', 'u8'];

/** The encoding of each kind of quantized conv weights in a model. */
export interface WeightScheme {
  conv: WeightEncoding;
  depthwise: WeightEncoding;
}

export function schemeLabel(s: WeightScheme): string {
  return s.conv === s.depthwise ? s.conv : `${s.conv} (depthwise ${s.depthwise})`;
}

/** A weight initializer that a DequantizeLinear turns into a layer's float weights. */
export interface WeightSite {
  /** The consuming layer (Keras name) and op. */
  layer: string;
  op: string;
  depthwise: boolean;
  encoding: WeightEncoding;
  data: TensorMsg;
  /** Per-channel (or scalar) zero point; undefined when the DequantizeLinear has none (zero). */
  zeroPoint: TensorMsg | undefined;
  dq: NodeMsg;
  /** Products summed per output value (conv: input channels per group x kernel area). */
  depth: number;
}

/** Integer ops whose weight is an input of their own (QOperator format): [weight, its zero point]. */
const QOPERATOR_WEIGHTS: Record<string, [number, number]> = {
  QLinearConv: [3, 5],
  ConvInteger: [1, 3],
  MatMulInteger: [1, 3],
  QLinearMatMul: [3, 5],
  QGemm: [3, 5],
};

/** A copy of `raw` with the top bit of every byte flipped (4 bytes at a time: VGG16 has 138 M weights). */
function flipped(raw: Uint8Array): Uint8Array {
  const c = new Uint8Array(raw.byteLength);
  c.set(raw);
  const words = new Uint32Array(c.buffer, 0, c.byteLength >> 2);
  for (let i = 0; i < words.length; i++) words[i] ^= 0x80808080;
  for (let i = words.length << 2; i < c.byteLength; i++) c[i] ^= 0x80;
  return c;
}

function isDepthwise(node: NodeMsg | undefined, dims: number[]): boolean {
  return node?.op_type === 'Conv' && intAttribute(node, 'group', 1) > 1 && dims[1] === 1;
}

function depthOf(node: NodeMsg | undefined, dims: number[]): number {
  if (node?.op_type === 'Conv') return dims.slice(1).reduce((a, b) => a * b, 1);
  if (node?.op_type === 'Gemm' && intAttribute(node, 'transB', 0) === 1) return dims[1] ?? 1;
  return dims[0] ?? 1;
}

/** Every int8/uint8 weight behind a DequantizeLinear (QDQ format), with its consumer. */
export function weightSites(model: QuantModel): WeightSite[] {
  const g = model.graph;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const consumer = new Map<string, NodeMsg>();
  for (const n of g.node) for (const i of n.input) if (!consumer.has(i)) consumer.set(i, n);
  const sites: WeightSite[] = [];
  for (const dq of g.node) {
    if (dq.op_type !== 'DequantizeLinear') continue;
    const data = inits.get(dq.input[0]!);
    if (!data || (data.data_type !== QDataType.INT8 && data.data_type !== QDataType.UINT8)) continue;
    const user = consumer.get(dq.output[0]!);
    const dims = data.dims.map(Number);
    sites.push({
      layer: user ? layerOf(user) : dq.name,
      op: user?.op_type ?? 'none',
      depthwise: isDepthwise(user, dims),
      encoding: data.data_type === QDataType.INT8 ? 's8' : 'u8',
      data,
      zeroPoint: dq.input[2] ? inits.get(dq.input[2]) : undefined,
      dq,
      depth: depthOf(user, dims),
    });
  }
  return sites;
}

/** The scheme a model's conv weights follow (undefined: no quantized conv, or a mix no scheme describes). */
export function schemeOf(sites: WeightSite[]): WeightScheme | undefined {
  const convs = sites.filter((s) => s.op === 'Conv');
  const one = (xs: WeightSite[]) => {
    const e = new Set(xs.map((s) => s.encoding));
    return e.size === 1 ? [...e][0] : e.size === 0 ? null : undefined;
  };
  const conv = one(convs.filter((s) => !s.depthwise));
  const depthwise = one(convs.filter((s) => s.depthwise));
  if (conv === undefined || depthwise === undefined || (conv === null && depthwise === null)) return undefined;
  return { conv: conv ?? depthwise!, depthwise: depthwise ?? conv! };
}

/** Why this model cannot be re-encoded for u8 x u8 kernels, or undefined when it can. */
export function cannotReencode(model: QuantModel): string | undefined {
  const inits = new Map(model.graph.initializer.map((t) => [t.name, t]));
  for (const n of model.graph.node) {
    const w = QOPERATOR_WEIGHTS[n.op_type];
    if (w && inits.get(n.input[w[0]] ?? '')?.data_type === QDataType.INT8) return `its ${n.op_type} node ${n.name} holds int8 weights itself (QOperator format)`;
    if (n.op_type === 'QuantizeLinear' && inits.get(n.input[2] ?? '')?.data_type === QDataType.INT8) return `its activations are int8 (${n.name})`;
  }
  return undefined;
}

/** Largest |weight| a kernel multiplies: the stored byte, or byte - zero point for kernels that centre first. */
export function weightRange(site: WeightSite): { maxStored: number; maxCentred: number } {
  const raw = site.data.raw_data;
  const zp = site.zeroPoint?.raw_data;
  const dims = site.data.dims.map(Number);
  const axis = intAttribute(site.dq, 'axis', 1);
  const stride = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = dims[axis] ?? 1;
  const signed = site.encoding === 's8';
  const value = (b: number) => (signed && b > 127 ? b - 256 : b);
  let maxStored = 0;
  let maxCentred = 0;
  for (let i = 0; i < raw.byteLength; i++) {
    const v = value(raw[i]!);
    const z = !zp ? 0 : zp.byteLength === 1 ? value(zp[0]!) : value(zp[Math.floor(i / stride) % channels]!);
    maxStored = Math.max(maxStored, Math.abs(v));
    maxCentred = Math.max(maxCentred, Math.abs(v - z));
  }
  return { maxStored, maxCentred };
}

function zeroPointsAre(site: WeightSite, value: number): boolean {
  const zp = site.zeroPoint?.raw_data;
  return zp === undefined ? value === 0 : zp.every((b) => b === value);
}

/**
 * Re-encodes, in place, each conv weight whose encoding differs from `scheme`'s for its
 * kind. s8 -> u8 always (bytes + 128, zero point + 128); u8 -> s8 only for the weights this
 * project writes (zero point 128, no byte 0: an int8 -128 would overflow ARM's int16 pairs),
 * others stay u8, which every CPU computes exactly. Returns the layers changed.
 */
export function reencode(model: QuantModel, scheme: WeightScheme): string[] {
  const changed: string[] = [];
  const done = new Set<string>();
  const added: TensorMsg[] = [];
  for (const site of weightSites(model)) {
    const want = site.depthwise ? scheme.depthwise : scheme.conv;
    if (site.encoding === want) continue;
    if (want === 's8' && (!zeroPointsAre(site, 128) || site.data.raw_data.includes(0))) continue;
    // Flipping the top bit adds 128 to an s8 byte read as u8, and subtracts 128 the other way.
    // A tensor shared by two DequantizeLinears is flipped once.
    const flip = (t: TensorMsg) => {
      if (done.has(t.name)) return;
      t.raw_data = flipped(t.raw_data);
      t.data_type = want === 's8' ? QDataType.INT8 : QDataType.UINT8;
      done.add(t.name);
    };
    flip(site.data);
    if (site.zeroPoint) flip(site.zeroPoint);
    else {
      // An absent zero point is 0 for int8; uint8 needs 128 spelled out.
      const name = `${site.data.name}_zero_point_u8`;
      added.push({ name, dims: [], data_type: QDataType.UINT8, raw_data: Uint8Array.of(128) });
      site.dq.input[1] ??= '';
      site.dq.input[2] = name;
    }
    changed.push(site.layer);
  }
  model.graph.initializer.push(...added);
  return changed;
}
