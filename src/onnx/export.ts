// tf.LayersModel -> ONNX ModelProto, in process. The graph input stays NHWC [N, H, W, C]
// as in tfjs; one Transpose makes it NCHW for the convolutions (ONNX Runtime's native,
// fastest layout), and every exposed output is put back in Keras order, so the ONNX
// model returns exactly what model.predict (or an intermediate layer) returns.
//
// Walk: the layer calls needed for the outputs, in topological order (walk.ts); each is
// translated by the converter registered for its class (ops/index.ts).
import type { tf } from '../tf.js';
import { ConvertContext } from './context.js';
import { OnnxExportError } from './errors.js';
import { kerasLayout, type KerasShape } from './layout.js';
import { CONVERTERS } from './ops/index.js';
import { encodeModel, type Dim } from './proto.js';
import { FP16_VERSION, toFloat16, type Fp16Policy } from './fp16.js';
import type { Precision } from './precision.js';
import { producerOf, walkGraph, type LayerNode, type SymbolicTensor } from './walk.js';

import { EXPORTER_VERSION } from './version.js';

export { EXPORTER_VERSION };

/** The precisions an export itself can compute in (int8 is made from the fp32 export by quantize/). */
export type ExportPrecision = Extract<Precision, 'fp32' | 'fp16'>;

export interface ExportOptions {
  /** Layer names to expose as extra graph outputs, NHWC like tfjs (e.g. 'block5_pool'). */
  outputs?: string[];
  /** fp16: weights and activations in float16, input and outputs still float32 (fp16.ts). Default fp32. */
  precision?: ExportPrecision;
  /** fp16: what stays float32 (default DEFAULT_FP16_POLICY). */
  fp16Policy?: Fp16Policy;
}

export interface OnnxExport {
  /** The serialized ModelProto. */
  bytes: Uint8Array;
  /** The graph input: NHWC float32, batch dimension 'N'. */
  inputName: string;
  /** Graph outputs: the model's outputs (named after their layers), then the extra ones. */
  outputNames: string[];
  /** fp16: the nodes that still compute in float32 (the policy's), by node name without the op. */
  keptFloat32?: string[];
}

interface Target {
  name: string;
  tensor: SymbolicTensor;
}

const NESTED_MODEL_CLASSES = new Set(['Model', 'Functional', 'Sequential']);

function resolveTargets(model: tf.LayersModel, extra: string[]): Target[] {
  const targets: Target[] = model.outputs.map((t) => ({ name: t.sourceLayer.name, tensor: t }));
  for (const name of extra) {
    if (targets.some((t) => t.name === name)) continue;
    let layer: tf.layers.Layer;
    try {
      layer = model.getLayer(name);
    } catch {
      throw new OnnxExportError(`no layer named '${name}' in model '${model.name}' (asked for as an output)`);
    }
    const calls = (layer as unknown as { inboundNodes: LayerNode[] }).inboundNodes.length;
    if (calls !== 1 || Array.isArray(layer.output)) {
      throw new OnnxExportError(`the output of layer '${name}' is ambiguous (${calls} calls or several outputs)`);
    }
    targets.push({ name, tensor: layer.output as SymbolicTensor });
  }
  return targets;
}

function dims(shape: KerasShape, name: string): Dim[] {
  return shape.map((d, i) => (i === 0 ? 'N' : (d ?? `${name}_dim${i}`)));
}

function convertNode(ctx: ConvertContext, node: LayerNode, input: SymbolicTensor): void {
  const layer = node.outboundLayer;
  const className = layer.getClassName();
  const layerRef = { name: layer.name, className };
  if (className === 'InputLayer') {
    if (node.outputTensors[0]!.id !== input.id) throw new OnnxExportError('models with several inputs are not supported');
    return;
  }
  const foldedInto = ctx.folded.get(node.id);
  if (foldedInto) {
    ctx.setValue(node.outputTensors[0]!, ctx.valueOf(foldedInto));
    return;
  }
  const converter = Object.hasOwn(CONVERTERS, className) ? CONVERTERS[className] : undefined;
  if (!converter) {
    const why = NESTED_MODEL_CLASSES.has(className)
      ? 'nested models are not supported (export the inner model, or rebuild it flat)'
      : `no ONNX converter for this layer class. Supported classes: ${Object.keys(CONVERTERS).join(', ')}`;
    throw new OnnxExportError(why, layerRef);
  }
  if (node.outputTensors.length !== 1) throw new OnnxExportError('layers with several outputs are not supported', layerRef);
  const out = node.outputTensors[0]!;
  const value = converter(ctx, {
    layer,
    node,
    config: layer.getConfig() as Record<string, unknown>,
    inputs: node.inputTensors.map((t) => ctx.valueOf(t)),
    outShape: out.shape,
    base: layer.name,
  });
  ctx.setValue(out, value);
}

/** Exports the model; throws OnnxExportError naming the first layer it cannot translate. */
export function exportToOnnx(model: tf.LayersModel, opts: ExportOptions = {}): OnnxExport {
  if (model.inputs.length !== 1) {
    throw new OnnxExportError(`models with ${model.inputs.length} inputs are not supported (one image input)`);
  }
  const input = model.inputs[0]!;
  if (input.dtype !== 'float32') throw new OnnxExportError(`input dtype ${input.dtype} is not supported (float32)`);
  const targets = resolveTargets(model, opts.outputs ?? []);
  const keras = walkGraph(targets.map((t) => t.tensor));
  const ctx = new ConvertContext(keras, new Set(targets.map((t) => t.tensor.id)));
  const g = ctx.graph;

  const inputName = producerOf(input).outboundLayer.name;
  g.reserve(inputName, ...targets.map((t) => t.name));
  g.addInput(inputName, dims(input.shape, inputName));
  ctx.setValue(input, { name: inputName, layout: kerasLayout(input.shape), shape: input.shape });

  for (const node of keras.nodes) convertNode(ctx, node, input);

  for (const t of targets) {
    // Keras order out; the Identity gives the output its layer's name whatever value it is.
    const value = ctx.kerasOrder(ctx.valueOf(t.tensor));
    g.node('Identity', [value.name], t.name, [], t.name);
    g.addOutput(t.name, dims(t.tensor.shape, t.name));
  }

  const proto = g.toModel(model.name, `onnx-exporter ${EXPORTER_VERSION}${opts.precision === 'fp16' ? ` fp16 ${FP16_VERSION}` : ''}`);
  const outputNames = targets.map((t) => t.name);
  if (opts.precision === 'fp16') {
    const half = toFloat16(proto, opts.fp16Policy);
    return { bytes: encodeModel(half.model), inputName, outputNames, keptFloat32: half.keptFloat32 };
  }
  return { bytes: encodeModel(proto), inputName, outputNames };
}
