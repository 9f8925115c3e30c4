// What the TensorFlow.js engine files share: the engine itself (tfjs runs the
// Keras model directly), package helpers and the native-build loader.
import { createRequire } from 'node:module';
import os from 'node:os';
import { tf } from '../tf.js';
import { BackbonesError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import type { BackendChoice, BackendProbe, Engine, Model, NativeImporter, PreparedModel, PrepareSpec } from './types.js';

const require = createRequire(import.meta.url);

export function packageVersion(pkg: string): string | undefined {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

export function isModuleNotFound(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && typeof e.message === 'string' && e.message.includes(pkg);
}

export const defaultImporter: NativeImporter = (pkg) => import(pkg);

/** The CPU's model name: the "adapter" of CPU engines. */
export function cpuName(): string {
  return os.cpus()[0]?.model.trim() || `${os.arch()} CPU`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
export { plural };

/** Loads a native tfjs-node package (it registers the 'tensorflow' backend) and switches tfjs to it. */
export async function startNative(candidate: 'tensorflow-gpu' | 'tensorflow', importer: NativeImporter = defaultImporter): Promise<BackendProbe> {
  const pkg = candidate === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  if (candidate === 'tensorflow-gpu' && process.env.TF_FORCE_GPU_ALLOW_GROWTH === undefined) {
    // Without this TensorFlow reserves nearly all GPU memory at start-up.
    process.env.TF_FORCE_GPU_ALLOW_GROWTH = 'true';
  }
  try {
    await importer(pkg);
  } catch (err) {
    if (isModuleNotFound(err, pkg)) return { candidate, package: pkg, status: 'not-installed', reason: `${pkg} is not installed` };
    return { candidate, package: pkg, status: 'failed', reason: `${pkg} failed to load: ${errorMessage(err)}` };
  }
  if (!tf.findBackend('tensorflow')) return { candidate, package: pkg, status: 'failed', reason: `${pkg} loaded but registered no "tensorflow" backend` };
  const ok = await tf.setBackend('tensorflow');
  await tf.ready();
  if (!ok) return { candidate, package: pkg, status: 'failed', reason: `${pkg} loaded but tf.setBackend('tensorflow') failed` };
  return { candidate, package: pkg, status: 'available', reason: 'native TensorFlow (libtensorflow)', version: packageVersion(pkg) };
}

/** Whether the native backend computes on a GPU (NodeJSKernelBackend.isUsingGpuDevice). */
export function nativeUsesGpu(): boolean {
  const b = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
  return Boolean(b.isUsingGpuDevice);
}

export async function startCpuBackend(): Promise<BackendProbe> {
  const ok = await tf.setBackend('cpu');
  await tf.ready();
  return ok
    ? { candidate: 'cpu', package: '@tensorflow/tfjs-backend-cpu', status: 'available', reason: 'pure JavaScript kernels (slow)', version: packageVersion('@tensorflow/tfjs-backend-cpu'), device: 'cpu' }
    : { candidate: 'cpu', package: '@tensorflow/tfjs-backend-cpu', status: 'failed', reason: 'the cpu backend failed to initialise' };
}

function isLayersModel(m: Model): m is tf.LayersModel {
  return m instanceof tf.LayersModel;
}

/**
 * A precision TensorFlow.js does not run (int8 is ONNX Runtime's): fp32 with a warning
 * under auto, else an error (the spec refuses an explicit tfjs backend with int8 first).
 */
function tfjsPrecision(spec: Pick<PrepareSpec, 'name' | 'precision'>): void {
  const asked = spec.precision;
  if (!asked || asked.precision === 'fp32') return;
  const why = `--precision ${asked.precision} runs on the onnx engine, and ${spec.name} runs on TensorFlow.js (${tf.getBackend()})`;
  if (!asked.fallback) throw new BackbonesError('E_USAGE', `${why}; use --backend onnx (or auto).`);
  log.warn(`${why}: running fp32.`);
}

/** A model run by TensorFlow.js itself; `run(batch, layer)` builds that layer's sub-model once. */
export function tfjsPrepared(model: Model, spec: Pick<PrepareSpec, 'name' | 'precision'>, fallback?: PreparedModel['fallback']): PreparedModel {
  tfjsPrecision(spec);
  const extractors = new Map<string, tf.LayersModel>();
  return {
    get engineName() {
      return tf.getBackend();
    },
    ownsWeights: false,
    precision: 'fp32',
    ...(fallback ? { fallback } : {}),
    async run(batch, output) {
      if (output === undefined) {
        const out = model.predict(batch);
        if (Array.isArray(out)) {
          tf.dispose(out.slice(1));
          return out[0]!;
        }
        if (!(out instanceof tf.Tensor)) throw new BackbonesError('E_MODEL', `${spec.name}: the model returned named outputs; pass a model with one output.`);
        return out;
      }
      if (!isLayersModel(model)) return model.execute(batch, output) as tf.Tensor;
      let extractor = extractors.get(output);
      if (!extractor) {
        extractor = tf.model({ inputs: model.inputs, outputs: model.getLayer(output).output as tf.SymbolicTensor });
        extractors.set(output, extractor);
      }
      return extractor.predict(batch) as tf.Tensor;
    },
    async dispose() {
      // The sub-models share the model's weights: nothing of their own to free.
      extractors.clear();
    },
  };
}

/** Every TensorFlow.js build runs models the same way; they differ in how they start. */
export class TfjsEngine implements Engine {
  constructor(readonly choice: BackendChoice) {}

  async prepare(model: Model, spec: PrepareSpec): Promise<PreparedModel> {
    return tfjsPrepared(model, spec);
  }

  async dispose(): Promise<void> {}
}

