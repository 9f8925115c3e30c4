// Graph simplifications done before planning. ZeroPadding2D exports as Pad -> Conv;
// ONNX Runtime folds that pair itself for float graphs, but between QDQ pairs the Pad
// stays as DQ -> Pad -> Q (two conversions per strided conv). Folding the zero padding
// into the Conv's own pads first gives the same result with no Pad at all.
import type { GraphMsg, NodeMsg } from '../proto.js';
import { attribute } from './model.js';

function int64s(raw: Uint8Array): number[] {
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  return Array.from(new BigInt64Array(copy.buffer), Number);
}

function isZero(graph: GraphMsg, name: string | undefined): boolean {
  if (!name) return true;
  const t = graph.initializer.find((i) => i.name === name);
  if (!t || t.data_type !== 1) return false;
  const copy = new Uint8Array(t.raw_data.byteLength);
  copy.set(t.raw_data);
  return new Float32Array(copy.buffer).every((v) => v === 0);
}

/** Folds every spatial zero Pad whose consumers are all Convs into those Convs. Returns how many. */
export function foldZeroPadsIntoConvs(graph: GraphMsg): number {
  const outputs = new Set(graph.output.map((o) => o.name));
  const consumers = (t: string): NodeMsg[] => graph.node.filter((n) => n.input.includes(t));
  let folded = 0;
  for (const pad of graph.node.filter((n) => n.op_type === 'Pad')) {
    const mode = attribute(pad, 'mode')?.s;
    if (mode && new TextDecoder().decode(mode) !== 'constant') continue;
    if (!isZero(graph, pad.input[2]) || pad.input.length > 3) continue;
    const padsInit = graph.initializer.find((i) => i.name === pad.input[1]);
    if (!padsInit) continue;
    const p = int64s(padsInit.raw_data);
    // NCHW: [n0, c0, h0, w0, n1, c1, h1, w1]; only H and W may be padded.
    if (p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[4] !== 0 || p[5] !== 0 || p.some((v) => v < 0)) continue;
    const out = pad.output[0]!;
    const users = consumers(out);
    if (outputs.has(out) || users.length === 0 || users.some((u) => u.op_type !== 'Conv' || u.input[0] !== out || attribute(u, 'auto_pad'))) continue;
    for (const conv of users) {
      const pads = attribute(conv, 'pads');
      const [t, l, b, r] = pads?.ints?.map(Number) ?? [0, 0, 0, 0];
      const merged = [t! + p[2]!, l! + p[3]!, b! + p[6]!, r! + p[7]!];
      if (pads) pads.ints = merged;
      else conv.attribute.push({ name: 'pads', type: 7, ints: merged });
      conv.input[0] = pad.input[0]!;
    }
    graph.node = graph.node.filter((n) => n !== pad);
    folded++;
  }
  return folded;
}
