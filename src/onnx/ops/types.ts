// The contract between the exporter's walker and each op converter.
import type { ConvertContext } from '../context.js';
import type { KerasShape, OnnxValue } from '../layout.js';
import type { Layer, LayerNode } from '../walk.js';

export interface ConvertArgs {
  layer: Layer;
  /** This call of the layer (a shared layer has one per call). */
  node: LayerNode;
  /** layer.getConfig(): camelCase keys, activations as names. */
  config: Record<string, unknown>;
  /** The ONNX values of node.inputTensors, in order. */
  inputs: OnnxValue[];
  /** Keras shape of the (single) output. */
  outShape: KerasShape;
  /** Name to derive this layer's ONNX value names from. */
  base: string;
}

/** Emits the nodes for one layer call and returns the value of its output. */
export type Converter = (ctx: ConvertContext, a: ConvertArgs) => OnnxValue;
