// What every op converter shares while one model is exported: the graph being built,
// the Keras tensor -> ONNX value map, layout changes (made once per value and reused),
// and the facts needed to fold a BatchNormalization into the conv before it.
import { GraphBuilder } from './graph.js';
import { OnnxExportError } from './errors.js';
import { attr } from './proto.js';
import { TO_NCHW, TO_NHWC, isPointSpatial, type OnnxValue } from './layout.js';
import type { KerasGraph, Layer, LayerNode, SymbolicTensor } from './walk.js';

export class ConvertContext {
  readonly graph = new GraphBuilder();
  /** BatchNormalization nodes already folded into their conv: the walker skips them. */
  readonly folded = new Map<number, SymbolicTensor>();
  private readonly values = new Map<number, OnnxValue>();
  private readonly relaid = new Map<string, OnnxValue>();

  constructor(
    private readonly keras: KerasGraph,
    /** Tensors exposed as graph outputs: they must exist as values of their own. */
    private readonly exposed: Set<number>,
  ) {}

  valueOf(t: SymbolicTensor): OnnxValue {
    const v = this.values.get(t.id);
    if (!v) throw new OnnxExportError(`internal: tensor ${t.name} used before it was produced`);
    return v;
  }

  setValue(t: SymbolicTensor, v: OnnxValue): void {
    this.values.set(t.id, v);
  }

  /** The value in NCHW (rank 4 only); a Transpose is emitted once per value. */
  nchw(v: OnnxValue): OnnxValue {
    if (v.layout === 'NCHW') return v;
    return this.relayout(v, 'NCHW');
  }

  /** The value in Keras' own axis order: NHWC for rank 4, unchanged otherwise. */
  kerasOrder(v: OnnxValue): OnnxValue {
    if (v.layout !== 'NCHW') return v;
    return this.relayout(v, 'NHWC');
  }

  private relayout(v: OnnxValue, to: 'NCHW' | 'NHWC'): OnnxValue {
    const key = `${v.name}>${to}`;
    const cached = this.relaid.get(key);
    if (cached) return cached;
    const g = this.graph;
    const base = `${v.name}_${to.toLowerCase()}`;
    let name: string;
    const channels = v.shape[3];
    if (isPointSpatial(v.shape) && typeof channels === 'number') {
      // 1x1 spatial: both layouts are the same bytes, a Reshape is free (no copy).
      const target = to === 'NCHW' ? [0, channels, 1, 1] : [0, 1, 1, channels];
      name = g.node('Reshape', [v.name, g.int64s(`shape_${target.join('_')}`, target)], base);
    } else {
      name = g.node('Transpose', [v.name], base, [attr.ints('perm', to === 'NCHW' ? TO_NCHW : TO_NHWC)]);
    }
    const out: OnnxValue = { name, layout: to, shape: v.shape };
    this.relaid.set(key, out);
    return out;
  }

  /**
   * The BatchNormalization call that is the only consumer of `t`, when it can be folded
   * into the conv producing `t`: `t` is not itself exposed, and the BN normalizes the
   * channel axis.
   */
  soleBatchNormConsumer(t: SymbolicTensor): LayerNode | undefined {
    if (this.exposed.has(t.id)) return undefined;
    const consumers = this.keras.consumers.get(t.id) ?? [];
    if (consumers.length !== 1) return undefined;
    const node = consumers[0]!;
    const layer = node.outboundLayer;
    if (layer.getClassName() !== 'BatchNormalization' || node.inputTensors.length !== 1) return undefined;
    const axis = (layer.getConfig() as { axis?: number }).axis ?? -1;
    const rank = t.shape.length;
    if (axis !== -1 && axis !== rank - 1) return undefined;
    return node;
  }

  /** Records that `bn` is folded: its output is the value of `t`. */
  fold(bn: LayerNode, t: SymbolicTensor): void {
    this.folded.set(bn.id, t);
  }

  error(layer: Layer, message: string): OnnxExportError {
    return new OnnxExportError(message, { name: layer.name, className: layer.getClassName() });
  }
}
