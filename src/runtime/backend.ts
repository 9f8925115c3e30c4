// Chooses and starts the TensorFlow.js backend, and says what it chose and why.
// auto: tfjs-node-gpu → tfjs-node → onnx (onnxruntime-node) → wasm → cpu. An explicitly requested backend
// that cannot start is an error naming the reason, never a silent fallback.
import { createRequire } from 'node:module';
import path from 'node:path';
import os from 'node:os';
import { existsSync } from 'node:fs';
import { tf } from './tf.js';
import { BackbonesError, errorMessage } from '../errors.js';

import { BACKEND_CHOICES, parseBackendRequest, type BackendRequest } from './choices.js';
export { BACKEND_CHOICES, parseBackendRequest, type BackendRequest };

export type ProbeStatus = 'available' | 'not-installed' | 'failed';

export interface BackendProbe {
  /** Candidate name: tensorflow-gpu, tensorflow, onnx, wasm or cpu. */
  candidate: 'tensorflow-gpu' | 'tensorflow' | 'onnx' | 'wasm' | 'cpu';
  /** onnx: the execution providers the installed onnxruntime-node lists. */
  providers?: string[];
  /** npm package providing it. */
  package: string;
  status: ProbeStatus;
  /** Why it is unavailable, or what it offers. */
  reason: string;
  version?: string;
}

export interface BackendChoice {
  requested: BackendRequest;
  /** The engine that runs models: 'tensorflow' | 'onnx' | 'wasm' | 'cpu'. */
  backend: string;
  /**
   * The tfjs backend underneath: models are always built and their weights loaded with
   * TensorFlow.js; with onnx, tfjs (wasm) only builds the graph that ONNX Runtime runs.
   */
  tfjsBackend: string;
  /** ONNX Runtime details when backend is onnx: providers listed by the package, and those used. */
  onnx?: { version: string; providers: string[]; executionProviders: string[]; threads: number };
  /** Human label, e.g. "wasm (SIMD, 1 thread)" or "tensorflow (GPU: @tensorflow/tfjs-node-gpu 4.22.0)". */
  label: string;
  /** One sentence: why this backend runs. */
  reason: string;
  /** Every candidate tried, in order, with its outcome. */
  attempts: BackendProbe[];
  /** Threads the backend computes with (wasm: its pool; cpu: 1; tensorflow: intra-op default = cores). */
  threads: number;
  tfjsVersion: string;
  /** Native build uses a GPU device. */
  gpu: boolean;
}

/** How native packages are imported; injectable so tests can simulate load failures. */
export type NativeImporter = (pkg: string) => Promise<unknown>;

const require = createRequire(import.meta.url);
const defaultImporter: NativeImporter = (pkg) => import(pkg);


function packageVersion(pkg: string): string | undefined {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

function isModuleNotFound(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return (
    (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') &&
    typeof e.message === 'string' &&
    e.message.includes(pkg)
  );
}

/** Loads a native tfjs-node package (which registers the 'tensorflow' backend). */
async function tryNative(
  candidate: 'tensorflow-gpu' | 'tensorflow',
  importer: NativeImporter,
): Promise<BackendProbe> {
  const pkg = candidate === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  if (candidate === 'tensorflow-gpu' && process.env.TF_FORCE_GPU_ALLOW_GROWTH === undefined) {
    // Without this TensorFlow reserves nearly all GPU memory at start-up.
    process.env.TF_FORCE_GPU_ALLOW_GROWTH = 'true';
  }
  try {
    await importer(pkg);
  } catch (err) {
    if (isModuleNotFound(err, pkg)) {
      return { candidate, package: pkg, status: 'not-installed', reason: `${pkg} is not installed` };
    }
    return { candidate, package: pkg, status: 'failed', reason: `${pkg} failed to load: ${errorMessage(err)}` };
  }
  if (!tf.findBackend('tensorflow')) {
    return { candidate, package: pkg, status: 'failed', reason: `${pkg} loaded but registered no "tensorflow" backend` };
  }
  return { candidate, package: pkg, status: 'available', reason: 'native TensorFlow (libtensorflow)', version: packageVersion(pkg) };
}

export function wasmDistDir(): string {
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
}

async function startWasm(): Promise<BackendProbe> {
  const pkg = '@tensorflow/tfjs-backend-wasm';
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Local .wasm files from node_modules: no network, whatever the CDN default.
    wasm.setWasmPaths(wasmDistDir());
    const ok = await tf.setBackend('wasm');
    // setBackend can leave getBackend() reporting 'wasm' after a failed init: check both.
    if (!ok || tf.getBackend() !== 'wasm') {
      return { candidate: 'wasm', package: pkg, status: 'failed', reason: 'the wasm backend failed to initialise' };
    }
    await tf.ready();
    return { candidate: 'wasm', package: pkg, status: 'available', reason: 'WebAssembly (XNNPACK kernels)', version: packageVersion(pkg) };
  } catch (err) {
    if (isModuleNotFound(err, pkg)) return { candidate: 'wasm', package: pkg, status: 'not-installed', reason: `${pkg} is not installed` };
    return { candidate: 'wasm', package: pkg, status: 'failed', reason: `the wasm backend failed: ${errorMessage(err)}` };
  }
}

/** How ONNX Runtime is probed; injectable so tests can simulate a broken install. */
export type OnnxProbe = () => Promise<{ ok: true; version: string; providers: string[] } | { ok: false; reason: string }>;
/** Loaded on demand: onnxruntime-node and the protobuf code are not needed for --help. */
const onnxAvailable: OnnxProbe = async () => (await import('../onnx/ort.js')).onnxAvailable();
let onnxProbe: OnnxProbe = onnxAvailable;
let onnxThreads: number | undefined;

/**
 * ONNX Runtime runs the models; tfjs still builds them and loads their weights, on its
 * cpu backend: its tensors are plain JS arrays, so once ONNX Runtime holds its own copy
 * the tfjs one really goes back to the OS (wasm memory never shrinks), and reading
 * weights out for the export is faster than out of wasm. A model that falls back to
 * tfjs switches tfjs to wasm first (switchTfjsToWasm).
 */
async function startOnnx(threads?: number): Promise<BackendProbe> {
  const probe = await onnxProbe();
  if (!probe.ok) return { candidate: 'onnx', package: 'onnxruntime-node', status: 'failed', reason: `onnxruntime-node failed to load: ${probe.reason}` };
  await startCpu();
  onnxThreads = threads;
  return { candidate: 'onnx', package: 'onnxruntime-node', status: 'available', reason: 'ONNX Runtime (MLAS kernels, multi-threaded)', version: probe.version, providers: probe.providers };
}

/**
 * Execution providers to use: CUDA when its provider library was installed into
 * onnxruntime-node (the package lists cuda/tensorrt but ships them only after
 * `script/install --onnxruntime-node-install=cuda12`), then cpu.
 * BACKBONES_ONNX_PROVIDERS=tensorrt,cuda,cpu overrides.
 */
export function onnxExecutionProviders(listed: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const forced = env.BACKBONES_ONNX_PROVIDERS?.split(',').map((p) => p.trim()).filter(Boolean);
  if (forced && forced.length > 0) return forced;
  let dir: string;
  try {
    dir = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return ['cpu'];
  }
  const cuda = listed.includes('cuda') && existsSync(path.join(dir, 'libonnxruntime_providers_cuda.so'));
  return cuda ? ['cuda', 'cpu'] : ['cpu'];
}

/** For a model that cannot run on ONNX Runtime: compute with tfjs on wasm (its tensors move over). */
export async function switchTfjsToWasm(): Promise<void> {
  if (tf.getBackend() === 'wasm') return;
  const probe = await startWasm();
  if (probe.status !== 'available') await startCpu();
  if (current) current.tfjsBackend = tf.getBackend();
}

async function startCpu(): Promise<BackendProbe> {
  const ok = await tf.setBackend('cpu');
  await tf.ready();
  return ok
    ? { candidate: 'cpu', package: '@tensorflow/tfjs-backend-cpu', status: 'available', reason: 'pure JavaScript kernels (slow)', version: packageVersion('@tensorflow/tfjs-backend-cpu') }
    : { candidate: 'cpu', package: '@tensorflow/tfjs-backend-cpu', status: 'failed', reason: 'the cpu backend failed to initialise' };
}

async function wasmThreads(): Promise<number> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    return wasm.getThreadsCount();
  } catch {
    return 1;
  }
}

function nativeUsesGpu(): boolean {
  // NodeJSKernelBackend exposes isUsingGpuDevice (tfjs-node/src/nodejs_kernel_backend.ts).
  const b = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
  return Boolean(b.isUsingGpuDevice);
}

async function describe(requested: BackendRequest, attempts: BackendProbe[], chosen: BackendProbe): Promise<BackendChoice> {
  const tfjsBackend = tf.getBackend();
  const backend = chosen.candidate === 'onnx' ? 'onnx' : tfjsBackend;
  const cores = os.availableParallelism();
  let threads = 1;
  let label = backend;
  let gpu = false;
  let onnx: BackendChoice['onnx'];
  if (backend === 'onnx') {
    threads = onnxThreads ?? cores;
    const providers = chosen.providers ?? ['cpu'];
    onnx = { version: chosen.version ?? 'unknown', providers, executionProviders: onnxExecutionProviders(providers), threads };
    label = `onnx (onnxruntime-node ${onnx.version}, ${onnx.executionProviders.join('+')}, ${threads} thread${threads === 1 ? '' : 's'})`;
  } else if (backend === 'wasm') {
    threads = await wasmThreads();
    const simd = Boolean(tf.env().getAsync ? await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') : false);
    label = `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})`;
  } else if (backend === 'tensorflow') {
    threads = cores;
    gpu = nativeUsesGpu();
    label = `tensorflow (${gpu ? 'GPU' : 'CPU'}: ${chosen.package} ${chosen.version ?? ''})`.replace(' )', ')');
  } else if (backend === 'cpu') {
    label = 'cpu (pure JavaScript, 1 thread)';
  }
  const skipped = attempts.filter((a) => a !== chosen && a.status !== 'available').map((a) => a.reason);
  const reason =
    requested === 'auto'
      ? skipped.length > 0
        ? `auto chose ${backend} because ${skipped.join('; ')}`
        : `auto chose ${backend}, the first available backend`
      : `${backend} was requested`;
  return { requested, backend, tfjsBackend, label, reason, attempts, threads, tfjsVersion: tf.version.tfjs, gpu, ...(onnx ? { onnx } : {}) };
}

let current: BackendChoice | undefined;

/** The backend chosen by initBackend, if any. */
export function currentBackend(): BackendChoice | undefined {
  return current;
}

/**
 * Initialises TensorFlow.js on the requested backend and returns what it chose and why.
 * Safe to call more than once: later calls return the first result when the request matches.
 */
export async function initBackend(
  requested: BackendRequest = 'auto',
  options: { importNative?: NativeImporter; importOnnx?: OnnxProbe; threads?: number } = {},
): Promise<BackendChoice> {
  onnxProbe = options.importOnnx ?? onnxAvailable;
  // Same request again (e.g. the library's load() after the CLI's): reuse the running backend.
  const injected = options.importNative !== undefined || options.importOnnx !== undefined;
  if (current && !injected && current.requested === requested && (options.threads === undefined || options.threads === current.threads)) return current;
  const importer = options.importNative ?? defaultImporter;
  const attempts: BackendProbe[] = [];

  const tryInOrder = async (steps: Array<() => Promise<BackendProbe>>): Promise<BackendProbe | undefined> => {
    for (const step of steps) {
      const probe = await step();
      attempts.push(probe);
      if (probe.status === 'available') return probe;
    }
    return undefined;
  };

  const native = [() => tryNative('tensorflow-gpu', importer), () => tryNative('tensorflow', importer)];
  const activateNative = async (probe: BackendProbe): Promise<BackendProbe> => {
    const ok = await tf.setBackend('tensorflow');
    await tf.ready();
    return ok ? probe : { ...probe, status: 'failed', reason: `${probe.package} loaded but tf.setBackend('tensorflow') failed` };
  };

  let chosen: BackendProbe | undefined;
  if (requested === 'tensorflow') {
    const probe = await tryInOrder(native);
    if (probe) chosen = await activateNative(probe);
    if (!chosen || chosen.status !== 'available') {
      throw new BackbonesError(
        'E_BACKEND',
        `The tensorflow backend cannot start: ${attempts.map((a) => a.reason).join('; ')}. ` +
          'Install @tensorflow/tfjs-node-gpu (CUDA 11.2 + cuDNN 8.1) or @tensorflow/tfjs-node, or use --backend wasm.',
      );
    }
  } else if (requested === 'onnx') {
    chosen = await tryInOrder([() => startOnnx(options.threads)]);
    if (!chosen) throw new BackbonesError('E_BACKEND', `The onnx backend cannot start: ${attempts[0]!.reason}.`);
  } else if (requested === 'wasm') {
    chosen = await tryInOrder([startWasm]);
    if (!chosen) throw new BackbonesError('E_BACKEND', `The wasm backend cannot start: ${attempts[0]!.reason}.`);
  } else if (requested === 'cpu') {
    chosen = await tryInOrder([startCpu]);
    if (!chosen) throw new BackbonesError('E_BACKEND', `The cpu backend cannot start: ${attempts[0]!.reason}.`);
  } else {
    const probe = await tryInOrder(native);
    if (probe) {
      chosen = await activateNative(probe);
      if (chosen.status !== 'available') attempts[attempts.length - 1] = chosen;
    }
    if (!chosen || chosen.status !== 'available') chosen = await tryInOrder([() => startOnnx(options.threads), startWasm, startCpu]);
    if (!chosen) throw new BackbonesError('E_BACKEND', `No TensorFlow.js backend could start: ${attempts.map((a) => a.reason).join('; ')}.`);
  }
  current = await describe(requested, attempts, chosen);
  return current;
}

/**
 * Reports every backend without changing the active one's state more than needed:
 * used by `doctor`. Native packages are imported (that is the only real test of them).
 */
export async function probeBackends(options: { importNative?: NativeImporter; importOnnx?: OnnxProbe } = {}): Promise<BackendProbe[]> {
  const importer = options.importNative ?? defaultImporter;
  const probes: BackendProbe[] = [];
  const gpu = await tryNative('tensorflow-gpu', importer);
  probes.push(gpu);
  // tfjs-node and tfjs-node-gpu both register 'tensorflow': only probe the CPU build when the GPU one is absent.
  probes.push(
    gpu.status === 'available'
      ? { candidate: 'tensorflow', package: '@tensorflow/tfjs-node', status: 'not-installed', reason: 'not probed: @tensorflow/tfjs-node-gpu already provides the tensorflow backend' }
      : await tryNative('tensorflow', importer),
  );
  const ort = await (options.importOnnx ?? onnxAvailable)();
  probes.push(
    ort.ok
      ? { candidate: 'onnx', package: 'onnxruntime-node', status: 'available', reason: `ONNX Runtime; execution providers: ${ort.providers.join(', ')}`, version: ort.version, providers: ort.providers }
      : { candidate: 'onnx', package: 'onnxruntime-node', status: /Cannot find (package|module)/.test(ort.reason) ? 'not-installed' : 'failed', reason: `onnxruntime-node: ${ort.reason}` },
  );
  const wasmVersion = packageVersion('@tensorflow/tfjs-backend-wasm');
  probes.push(
    wasmVersion
      ? { candidate: 'wasm', package: '@tensorflow/tfjs-backend-wasm', status: 'available', reason: 'WebAssembly (XNNPACK kernels)', version: wasmVersion }
      : { candidate: 'wasm', package: '@tensorflow/tfjs-backend-wasm', status: 'not-installed', reason: '@tensorflow/tfjs-backend-wasm is not installed' },
  );
  probes.push({ candidate: 'cpu', package: '@tensorflow/tfjs-backend-cpu', status: 'available', reason: 'pure JavaScript kernels (slow)', version: packageVersion('@tensorflow/tfjs-backend-cpu') });
  return probes;
}
