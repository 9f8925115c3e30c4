// @tensorflow/tfjs-node-gpu: native TensorFlow with CUDA 11.2 + cuDNN 8.1 (an optional dependency).
import os from 'node:os';
import { TfjsEngine, cpuName, nativeUsesGpu, startNative } from './tfjs-common.js';
import type { EngineFamily } from './family.js';

export const family: EngineFamily = {
  async start({ device, deps }) {
    const probe = await startNative('tensorflow-gpu', deps.importNative);
    if (probe.status !== 'available') return { ok: false, probe, permanent: true };
    const gpu = nativeUsesGpu();
    if (device === 'gpu' && !gpu) {
      return { ok: false, permanent: false, probe: { ...probe, status: 'failed', reason: `${probe.package} loaded but TensorFlow found no CUDA GPU` } };
    }
    if (device === 'cpu' && gpu) {
      return { ok: false, permanent: false, probe: { ...probe, status: 'failed', reason: `${probe.package} would compute on the GPU (--device cpu)` } };
    }
    const label = `tensorflow (${gpu ? 'GPU' : 'CPU'}: ${probe.package} ${probe.version ?? ''})`.replace(' )', ')');
    const threads = os.availableParallelism();
    return { ok: true, probe: { ...probe, device }, details: { backend: 'tensorflow', label, threads, device, provider: gpu ? 'cuda' : 'cpu', adapter: gpu ? 'CUDA device (TensorFlow)' : cpuName(), gpu } };
  },
  create: (choice) => new TfjsEngine(choice),
  async probe(deps) {
    const probe = await startNative('tensorflow-gpu', deps.importNative);
    return probe.status === 'available' ? { ...probe, device: nativeUsesGpu() ? 'gpu' : 'cpu' } : probe;
  },
};
