// The Keras graph as the exporter sees it: the layer-call nodes needed for the requested
// outputs, in topological order, and who consumes each tensor. Walking back from the
// outputs (instead of over model.layers) handles functional and Sequential models alike,
// shared layers (one node per call), and skips branches no output needs.
import type { tf } from '../tf.js';

export type SymbolicTensor = tf.SymbolicTensor;
export type Layer = tf.layers.Layer;

/** tfjs-layers' Node (one call of a layer), which tfjs does not export as a type. */
export interface LayerNode {
  id: number;
  inputTensors: SymbolicTensor[];
  outputTensors: SymbolicTensor[];
  outboundLayer: Layer;
}

/**
 * The tensors a call consumes. An InputLayer's node lists its own output as its input
 * (as in Keras), so it has none here.
 */
export function inputsOf(node: LayerNode): SymbolicTensor[] {
  return node.outboundLayer.getClassName() === 'InputLayer' ? [] : node.inputTensors;
}

/** The call that produced `t`. */
export function producerOf(t: SymbolicTensor): LayerNode {
  return (t.sourceLayer as unknown as { inboundNodes: LayerNode[] }).inboundNodes[t.nodeIndex]!;
}

export interface KerasGraph {
  /** Every node the targets depend on, producers before consumers. */
  nodes: LayerNode[];
  /** Symbolic tensor id -> the nodes that take it as input. */
  consumers: Map<number, LayerNode[]>;
}

export function walkGraph(targets: SymbolicTensor[]): KerasGraph {
  const nodes: LayerNode[] = [];
  const seen = new Set<number>();
  // Iterative post-order DFS: Inception-sized graphs are shallow, but a 1000-layer chain
  // must not overflow the stack.
  const stack: Array<{ node: LayerNode; expanded: boolean }> = targets.map((t) => ({ node: producerOf(t), expanded: false }));
  stack.reverse();
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (seen.has(top.node.id)) continue;
    if (top.expanded) {
      seen.add(top.node.id);
      nodes.push(top.node);
      continue;
    }
    stack.push({ node: top.node, expanded: true });
    for (const input of [...inputsOf(top.node)].reverse()) {
      const producer = producerOf(input);
      if (!seen.has(producer.id)) stack.push({ node: producer, expanded: false });
    }
  }
  const consumers = new Map<number, LayerNode[]>();
  for (const node of nodes) {
    for (const input of inputsOf(node)) {
      const list = consumers.get(input.id) ?? [];
      if (!list.includes(node)) list.push(node);
      consumers.set(input.id, list);
    }
  }
  return { nodes, consumers };
}
