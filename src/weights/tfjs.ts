// Weights of a TF.js layers model (model.json + shards) in the same per-layer form the
// .h5 reader returns, so one assignWeights serves both. Quantized weights (uint8,
// uint16, float16) are dequantized by tf.io.decodeWeights, exactly as
// tf.loadLayersModel does.
import { modelHandler } from './tfjs-artifacts.js';
import { tf } from '../tf.js';
import { WeightsError } from './errors.js';
import type { LayerWeights, WeightsFile } from './types.js';

export interface TfjsWeightsFile extends WeightsFile {
  kerasVersion?: string;
  backend?: string;
}

interface KerasLayerConfig {
  name?: string;
  config?: { name?: string };
}

/** Layer names in model order from a converted Keras modelTopology, if it has one. */
export function topologyLayerNames(modelTopology: unknown): string[] {
  if (!modelTopology || typeof modelTopology !== 'object') return [];
  const topo = modelTopology as { model_config?: unknown; config?: unknown };
  const model = (topo.model_config ?? topo) as { config?: unknown };
  const config = model.config;
  // Keras <= 2.1 Sequential: config is the layer list; later: { name, layers }.
  const layers = (Array.isArray(config) ? config : (config as { layers?: unknown } | undefined)?.layers) as
    | KerasLayerConfig[]
    | undefined;
  if (!Array.isArray(layers)) return [];
  return layers.map((l) => l.name ?? l.config?.name).filter((n): n is string => typeof n === 'string');
}

/**
 * Reads a TF.js layers model's weights (location: model.json, its folder, or an http
 * URL) grouped by layer: layer name = the weight name before its last '/'
 * ('block_1_expand/kernel' -> 'block_1_expand'). Layers come in the topology's order
 * (the manifest is sorted by name), weights in manifest order within a layer.
 */
export async function readTfjsLayersWeights(location: string): Promise<TfjsWeightsFile> {
  const handler = modelHandler(location);
  if (!handler.load) throw new WeightsError(`No loader for ${location}.`);
  const artifacts = await handler.load();
  const specs = artifacts.weightSpecs;
  if (!specs || !artifacts.weightData) {
    throw new WeightsError(`${location} has no weights manifest.`);
  }
  const byLayer = new Map<string, LayerWeights>();
  const named = tf.io.decodeWeights(artifacts.weightData, specs);
  try {
    for (const spec of specs) {
      const tensor = named[spec.name];
      const slash = spec.name.lastIndexOf('/');
      const layerName = slash >= 0 ? spec.name.slice(0, slash) : spec.name;
      const values = tensor.dataSync();
      const data = values instanceof Float32Array ? values.slice() : Float32Array.from(values as ArrayLike<number>);
      let layer = byLayer.get(layerName);
      if (!layer) {
        layer = { name: layerName, weights: [] };
        byLayer.set(layerName, layer);
      }
      layer.weights.push({ name: spec.name, shape: [...tensor.shape], data });
    }
  } finally {
    tf.dispose(named);
  }

  const topology = artifacts.modelTopology as { keras_version?: string; backend?: string } | undefined;
  const order = topologyLayerNames(topology);
  const layers: LayerWeights[] = [];
  for (const name of order) {
    const layer = byLayer.get(name);
    if (layer) {
      layers.push(layer);
      byLayer.delete(name);
    }
  }
  // Weights whose layer is not a top-level topology layer (nested models) keep manifest order.
  layers.push(...byLayer.values());
  return { kerasVersion: topology?.keras_version, backend: topology?.backend, layers };
}
