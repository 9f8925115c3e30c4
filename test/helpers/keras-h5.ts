// Writes Keras 2 legacy HDF5 weights files the way Keras does, for tests: the layout
// is described at the top of src/weights/h5.ts, which reads these files.
import h5wasm from 'h5wasm/node';
import { WeightsError } from '../../src/weights/errors.js';
import type { KerasH5Layout } from '../../src/weights/h5.js';
import type { LayerWeights } from '../../src/weights/types.js';

type H5Group = import('h5wasm/node').Group;

/** The h5wasm module, initialised. */
async function h5(): Promise<typeof h5wasm> {
  await h5wasm.ready;
  return h5wasm;
}

/** Keras' HDF5_OBJECT_HEADER_LIMIT: attributes larger than this are split into chunks. */
export const HDF5_OBJECT_HEADER_LIMIT = 64512;

export interface WriteKerasH5Options {
  layout?: KerasH5Layout;
  kerasVersion?: string;
  backend?: string;
  /** model_config for the full-model layout (JSON-serialised); default {}. */
  modelConfig?: unknown;
  /** Dataset type (Keras writes the variables' dtype). float16 cannot be written with h5wasm. */
  dtype?: 'float32' | 'float64';
}

/** Bytes of a string as a fixed-length HDF5 string (UTF-8). */
const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * Keras' save_attributes_to_hdf5_group: one fixed-length string array attribute, or,
 * when it would exceed 64512 bytes, np.array_split chunks <name>0, <name>1, ...
 * An empty list becomes an empty float64 array, as np.asarray([]) does.
 */
function writeAttrList(obj: H5Group, name: string, values: string[]): void {
  if (values.length === 0) {
    obj.create_attribute(name, new Float64Array(0), [0], '<d');
    return;
  }
  const itemsize = Math.max(1, ...values.map(byteLength));
  let chunks = 1;
  while (Math.ceil(values.length / chunks) * itemsize > HDF5_OBJECT_HEADER_LIMIT) chunks++;
  if (chunks === 1) {
    obj.create_attribute(name, values, [values.length], `S${itemsize}`);
    return;
  }
  // np.array_split: the first (n % k) chunks get one extra element.
  const base = Math.floor(values.length / chunks);
  const extra = values.length % chunks;
  let start = 0;
  for (let i = 0; i < chunks; i++) {
    const len = base + (i < extra ? 1 : 0);
    const part = values.slice(start, start + len);
    start += len;
    obj.create_attribute(`${name}${i}`, part, [part.length], `S${itemsize}`);
  }
}

function writeAttrString(obj: H5Group, name: string, value: string): void {
  obj.create_attribute(name, value, null, `S${Math.max(1, byteLength(value))}`);
}

function ensureGroup(parent: H5Group, rel: string, lib: typeof h5wasm): H5Group {
  let g = parent;
  for (const part of rel.split('/').filter(Boolean)) {
    const existing = g.keys().includes(part) ? g.get(part) : null;
    g = existing instanceof lib.Group ? existing : g.create_group(part);
  }
  return g;
}

/**
 * Writes layers the way Keras 2 does (see the layout at the top of this file). Weight
 * names are used as given: pass Keras' 'layer/kernel:0' form to get its nested groups.
 * It is also the executable description of the layout src/weights/h5.ts reads.
 */
export async function writeKerasH5(file: string, layers: LayerWeights[], options: WriteKerasH5Options = {}): Promise<void> {
  const { layout = 'weights-only', kerasVersion = '2.15.0', backend = 'tensorflow', modelConfig = {}, dtype = 'float32' } = options;
  const lib = await h5();
  const f = new lib.File(file, 'w');
  if (f.file_id < 0n) throw new WeightsError(`HDF5 could not create ${file}.`);
  try {
    let root: H5Group = f;
    if (layout === 'full-model') {
      writeAttrString(f, 'keras_version', kerasVersion);
      writeAttrString(f, 'backend', backend);
      writeAttrString(f, 'model_config', JSON.stringify(modelConfig));
      root = f.create_group('model_weights');
    }
    writeAttrList(root, 'layer_names', layers.map((l) => l.name));
    writeAttrString(root, 'backend', backend);
    writeAttrString(root, 'keras_version', kerasVersion);
    // Keras: "Sort model layers by layer name to ensure that group names are strictly
    // growing to avoid prefix issues."
    for (const layer of [...layers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const g = root.create_group(layer.name);
      writeAttrList(g, 'weight_names', layer.weights.map((w) => w.name));
      for (const w of layer.weights) {
        const slash = w.name.lastIndexOf('/');
        const parent = slash >= 0 ? ensureGroup(g, w.name.slice(0, slash), lib) : g;
        const size = w.shape.reduce((a, b) => a * b, 1);
        if (size !== w.data.length) {
          throw new WeightsError(`Weight ${layer.name}/${w.name}: shape [${w.shape}] needs ${size} values, got ${w.data.length}.`);
        }
        parent.create_dataset({
          name: w.name.slice(slash + 1),
          data: dtype === 'float64' ? Float64Array.from(w.data) : w.data,
          shape: w.shape,
          dtype: dtype === 'float64' ? '<d' : '<f',
        });
      }
    }
  } finally {
    f.close();
  }
}
