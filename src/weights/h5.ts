// Keras 2 / tf.keras legacy HDF5 weights, read with h5wasm (the tests' writer,
// test/helpers/keras-h5.ts, is the executable description of the layout).
//
// The layout, as keras/src/legacy/saving/legacy_h5_format.py writes it
// (save_weights_to_hdf5_group, save_attributes_to_hdf5_group):
//
//   weights-only (model.save_weights('x.h5'); the keras-applications downloads)
//     /                      attrs: layer_names   fixed-length byte strings, EVERY layer
//                                                 of the model in model order (weightless
//                                                 ones too)
//                                   backend       b'tensorflow'
//                                   keras_version b'2.x.y'
//     /<layer>               attrs: weight_names  e.g. [b'block1_conv1/kernel:0',
//                                                 b'block1_conv1/bias:0']; for a layer
//                                                 without weights an EMPTY float64 array
//     /<layer>/<weight_name> datasets, so 'block1_conv1/kernel:0' is the dataset
//                            /block1_conv1/block1_conv1/kernel:0 (h5py makes the
//                            intermediate group). Old Keras 1 files use flat names
//                            such as 'block1_conv1_W_1:0'.
//   Groups are created in sorted name order; the model order is layer_names'.
//   An attribute over 64512 bytes (HDF5's object header limit) is split by Keras into
//   <name>0, <name>1, ... (np.array_split), e.g. layer_names0, layer_names1.
//
//   full model (model.save('x.h5'))
//     /                      attrs: keras_version, backend, model_config (JSON bytes),
//                                   training_config (optional)
//     /model_weights         the weights-only layout above (with its own layer_names,
//                            backend, keras_version)
//     /optimizer_weights     ignored
//
// Keras 3's '.weights.h5' (groups layers/<name>/vars/0) is a different format and is
// rejected with a hint.
//
// h5wasm in Node ('h5wasm/node') is built with NODERAWFS: it opens host paths directly
// (relative ones against process.cwd()), nothing has to be mounted. It must be awaited
// (h5wasm.ready) once, and is imported lazily so commands that read no .h5 do not pay
// for compiling the wasm.
import { open } from 'node:fs/promises';
import { WeightsError } from './errors.js';
import type { LayerWeights, WeightArray, WeightsFile } from './types.js';

type H5 = typeof import('h5wasm/node');
type H5Group = import('h5wasm/node').Group;
type H5Dataset = import('h5wasm/node').Dataset;

export type KerasH5Layout = 'weights-only' | 'full-model';

export interface KerasWeightsFile extends WeightsFile {
  layout: KerasH5Layout;
  kerasVersion?: string;
  backend?: string;
  /** Parsed model_config of a full-model file. */
  modelConfig?: unknown;
}

let h5Promise: Promise<H5['default']> | undefined;

/** The h5wasm module, initialised once. */
async function h5(): Promise<H5['default']> {
  h5Promise ??= import('h5wasm/node').then(async (m) => {
    await m.default.ready;
    return m.default;
  });
  return h5Promise;
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Checks the file exists and carries the HDF5 signature (at 0, 512, 1024, ... when a
 * user block precedes it). h5wasm does not throw on a bad open: it returns a File with
 * file_id -1 and prints HDF5's error stack to stderr, so we check first.
 */
async function checkHdf5(file: string): Promise<void> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new WeightsError(`Cannot open weights file ${file}: ${(err as Error).message}.`, { cause: err });
  }
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(8);
    for (let offset = 0; offset + 8 <= size; offset = offset === 0 ? 512 : offset * 2) {
      await fh.read(buf, 0, 8, offset);
      if (buf.equals(HDF5_SIGNATURE)) return;
    }
  } finally {
    await fh.close();
  }
  throw new WeightsError(`${file} is not an HDF5 file (no HDF5 signature); expected a Keras .h5 weights file.`);
}

// --- attribute decoding ---------------------------------------------------------------

/**
 * h5py writes Keras' strings as fixed-length byte strings (numpy 'S'), newer h5py as
 * variable-length ones; h5wasm returns string | string[] for both, and a numeric
 * typed array for Keras' empty weight_names (np.asarray([]) is float64).
 */
function decodeStrings(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return [clean(value)];
  if (value instanceof Uint8Array) return [clean(new TextDecoder().decode(value))];
  if (Array.isArray(value)) return value.flatMap((v) => decodeStrings(v));
  if (ArrayBuffer.isView(value)) {
    if ((value as unknown as ArrayLike<unknown>).length === 0) return [];
    throw new WeightsError(`Expected a string attribute, found numbers.`);
  }
  return [clean(String(value))];
}

/** Drops NUL padding (and space padding, H5T_STR_SPACEPAD) that fixed-length strings keep. */
function clean(s: string): string {
  const nul = s.indexOf('\0');
  return (nul >= 0 ? s.slice(0, nul) : s).replace(/ +$/, '');
}

function attrNames(obj: H5Group): string[] {
  return Object.keys(obj.attrs);
}

function readAttrString(obj: H5Group, name: string): string | undefined {
  if (!attrNames(obj).includes(name)) return undefined;
  return decodeStrings(obj.attrs[name].value)[0];
}

/** Keras' load_attributes_from_hdf5_group: <name>, else <name>0, <name>1, ... */
function readAttrList(obj: H5Group, name: string): string[] | undefined {
  const names = attrNames(obj);
  if (names.includes(name)) return decodeStrings(obj.attrs[name].value);
  if (!names.includes(`${name}0`)) return undefined;
  const out: string[] = [];
  for (let i = 0; names.includes(`${name}${i}`); i++) out.push(...decodeStrings(obj.attrs[`${name}${i}`].value));
  return out;
}

// --- dataset decoding -----------------------------------------------------------------

/** IEEE half -> float (for float16 datasets, which h5wasm does not decode). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

async function readDataset(ds: H5Dataset, where: string): Promise<{ shape: number[]; data: Float32Array }> {
  const meta = ds.metadata;
  const shape = meta.shape ?? [];
  const FLOAT = 1;
  const INTEGER = 0;
  if (meta.type === FLOAT && meta.size === 2) {
    // h5wasm: "Float16 not supported" -- read the raw bytes through the module.
    const Module = await (await h5()).ready;
    const nbytes = meta.size * meta.total_size;
    const ptr = Module._malloc(nbytes);
    let raw: Uint8Array;
    try {
      Module.get_dataset_data(ds.file_id, ds.path, null, null, null, BigInt(ptr));
      raw = Module.HEAPU8.slice(ptr, ptr + nbytes);
    } finally {
      Module._free(ptr);
    }
    const view = new DataView(raw.buffer);
    const out = new Float32Array(meta.total_size);
    for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
    return { shape, data: out };
  }
  if (meta.type !== FLOAT && meta.type !== INTEGER) {
    throw new WeightsError(`Dataset ${where} is not numeric (HDF5 type class ${meta.type}).`);
  }
  const value = ds.value;
  if (value instanceof Float32Array) return { shape, data: value };
  if (typeof value === 'number' || typeof value === 'bigint') return { shape, data: Float32Array.of(Number(value)) };
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) {
    return { shape, data: Float32Array.from(value, (v) => Number(v)) };
  }
  if (ArrayBuffer.isView(value)) return { shape, data: Float32Array.from(value as unknown as ArrayLike<number>) };
  throw new WeightsError(`Dataset ${where} could not be read as numbers.`);
}

// --- reader ---------------------------------------------------------------------------

/**
 * Reads a Keras .h5 weights file (weights-only or full-model layout) into layers in
 * file order (layer_names), each weight in weight_names order, float16/float64 data
 * converted to float32.
 */
export async function readKerasH5(file: string): Promise<KerasWeightsFile> {
  await checkHdf5(file);
  const lib = await h5();
  const f = new lib.File(file, 'r');
  if (f.file_id < 0n) throw new WeightsError(`HDF5 could not open ${file}.`);
  try {
    let root: H5Group = f;
    let layout: KerasH5Layout = 'weights-only';
    let modelConfig: unknown;
    let layerNames = readAttrList(root, 'layer_names');
    if (layerNames === undefined) {
      const mw = f.keys().includes('model_weights') ? f.get('model_weights') : null;
      if (mw instanceof lib.Group) {
        root = mw;
        layout = 'full-model';
        layerNames = readAttrList(root, 'layer_names');
        const cfg = readAttrString(f, 'model_config');
        if (cfg !== undefined) {
          try {
            modelConfig = JSON.parse(cfg);
          } catch {
            modelConfig = cfg;
          }
        }
      }
    }
    if (layerNames === undefined) {
      const keys = f.keys();
      const keras3 = keys.includes('layers') || keys.includes('vars') || keys.includes('_layer_checkpoint_dependencies');
      throw new WeightsError(
        keras3
          ? `${file} is a Keras 3 '.weights.h5' file, which is not supported; re-save the model with model.save('model.h5') (legacy HDF5 format).`
          : `${file} is not a Keras weights file: it has no 'layer_names' attribute and no 'model_weights' group.`,
      );
    }
    const kerasVersion = readAttrString(root, 'keras_version') ?? readAttrString(f, 'keras_version');
    const backend = readAttrString(root, 'backend') ?? readAttrString(f, 'backend');
    if (backend === 'theano') {
      // Porting note: Keras converted Theano-ordered (flipped) conv kernels on load; we don't.
      throw new WeightsError(`${file} was saved with the Theano backend; convert it with Keras (tensorflow backend) first.`);
    }

    const layers: LayerWeights[] = [];
    for (const layerName of layerNames) {
      const g = root.get(layerName);
      if (!(g instanceof lib.Group)) {
        throw new WeightsError(`${file}: layer '${layerName}' is listed in layer_names but has no group.`);
      }
      const weightNames = readAttrList(g, 'weight_names') ?? [];
      const weights: WeightArray[] = [];
      for (const weightName of weightNames) {
        const ds = g.get(weightName);
        if (!(ds instanceof lib.Dataset)) {
          throw new WeightsError(`${file}: weight '${weightName}' of layer '${layerName}' is missing.`);
        }
        const { shape, data } = await readDataset(ds, `${layerName}/${weightName}`);
        weights.push({ name: weightName, shape, data });
      }
      layers.push({ name: layerName, weights });
    }
    return { layout, kerasVersion, backend, modelConfig, layers };
  } finally {
    f.close();
  }
}
