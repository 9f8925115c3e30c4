// TensorFlow.js on WebAssembly (XNNPACK kernels); one thread in Node.
import { createRequire } from 'node:module';
import path from 'node:path';
import { tf } from '../tf.js';
import { errorMessage } from '../errors.js';
import { TfjsEngine, cpuName, isModuleNotFound, packageVersion, plural, startCpuBackend } from './tfjs-common.js';
import type { BackendProbe } from './types.js';
import type { EngineFamily } from './family.js';

const require = createRequire(import.meta.url);
const PKG = '@tensorflow/tfjs-backend-wasm';

export function wasmDistDir(): string {
  return path.join(path.dirname(require.resolve(`${PKG}/package.json`)), 'dist') + path.sep;
}

export async function startWasmBackend(): Promise<BackendProbe> {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Local .wasm files from node_modules: no network, whatever the CDN default.
    wasm.setWasmPaths(wasmDistDir());
    const ok = await tf.setBackend('wasm');
    // setBackend can leave getBackend() reporting 'wasm' after a failed init: check both.
    if (!ok || tf.getBackend() !== 'wasm') return { candidate: 'wasm', package: PKG, status: 'failed', reason: 'the wasm backend failed to initialise' };
    await tf.ready();
    return { candidate: 'wasm', package: PKG, status: 'available', reason: 'WebAssembly (XNNPACK kernels)', version: packageVersion(PKG), device: 'cpu' };
  } catch (err) {
    if (isModuleNotFound(err, PKG)) return { candidate: 'wasm', package: PKG, status: 'not-installed', reason: `${PKG} is not installed` };
    return { candidate: 'wasm', package: PKG, status: 'failed', reason: `the wasm backend failed: ${errorMessage(err)}` };
  }
}

/** Threads of the wasm backend once it runs (1 in Node: tfjs ships no threaded build for it). */
export async function wasmThreads(): Promise<number> {
  try {
    return (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount();
  } catch {
    return 1;
  }
}

/** For a model ONNX Runtime cannot take: compute with tfjs on wasm (cpu if wasm fails). */
export async function switchTfjsToWasm(): Promise<void> {
  if (tf.getBackend() === 'wasm') return;
  const probe = await startWasmBackend();
  if (probe.status !== 'available') await startCpuBackend();
}

export const family: EngineFamily = {
  async start() {
    const probe = await startWasmBackend();
    if (probe.status !== 'available') return { ok: false, probe, permanent: true };
    const threads = await wasmThreads();
    const simd = Boolean(tf.env().getAsync ? await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') : false);
    return { ok: true, probe, details: { backend: 'wasm', label: `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${plural(threads, 'thread')})`, threads, device: 'cpu', provider: 'wasm', adapter: cpuName(), gpu: false } };
  },
  create: (choice) => new TfjsEngine(choice),
  async probe() {
    const version = packageVersion(PKG);
    return version
      ? { candidate: 'wasm', package: PKG, status: 'available', reason: 'WebAssembly (XNNPACK kernels)', version, device: 'cpu' }
      : { candidate: 'wasm', package: PKG, status: 'not-installed', reason: `${PKG} is not installed` };
  },
};
