// TensorFlow.js' pure-JavaScript backend: always there, slow, one thread.
import { TfjsEngine, cpuName, packageVersion, startCpuBackend } from './tfjs-common.js';
import type { EngineFamily } from './family.js';

export const family: EngineFamily = {
  async start() {
    const probe = await startCpuBackend();
    if (probe.status !== 'available') return { ok: false, probe, permanent: true };
    return { ok: true, probe, details: { backend: 'cpu', label: 'cpu (pure JavaScript, 1 thread)', threads: 1, device: 'cpu', provider: 'cpu', adapter: cpuName(), gpu: false } };
  },
  create: (choice) => new TfjsEngine(choice),
  async probe() {
    return { candidate: 'cpu', package: '@tensorflow/tfjs-backend-cpu', status: 'available', reason: 'pure JavaScript kernels (slow)', version: packageVersion('@tensorflow/tfjs-backend-cpu'), device: 'cpu' };
  },
};
