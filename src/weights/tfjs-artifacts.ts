// TF.js model files: reads a model.json and its weight shards (the "model artifacts")
// from a local path or an http(s) URL without tfjs-node's file:// handler, so it works
// on every backend. Used to load whole TF.js models and to read their weights.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { tf } from '../tf.js';
import { isUrl } from './download.js';

type ModelJSON = tf.io.ModelJSON;

async function fetchBytes(location: string): Promise<ArrayBuffer> {
  if (isUrl(location)) {
    const res = await fetch(location);
    if (!res.ok) throw new Error(`HTTP ${res.status} for ${location}`);
    return res.arrayBuffer();
  }
  const buf = await readFile(location);
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

function sibling(modelJsonLocation: string, relative: string): string {
  if (isUrl(modelJsonLocation)) return new URL(relative, modelJsonLocation).toString();
  return path.join(path.dirname(modelJsonLocation), relative);
}

/** Reads and parses a model.json (path or URL). A directory means <dir>/model.json. */
export async function readModelJson(location: string): Promise<{ json: ModelJSON; location: string }> {
  let loc = location;
  if (!isUrl(loc) && !loc.endsWith('.json')) loc = path.join(loc, 'model.json');
  const bytes = await fetchBytes(loc);
  const json = JSON.parse(new TextDecoder().decode(bytes)) as ModelJSON;
  return { json, location: loc };
}

/** An IOHandler for tf.loadLayersModel / tf.loadGraphModel reading files or URLs. */
export function modelHandler(location: string): tf.io.IOHandler {
  return {
    load: async () => {
      const { json, location: loc } = await readModelJson(location);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) buffers.push(await fetchBytes(sibling(loc, p)));
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}
