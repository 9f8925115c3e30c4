// @tensorflow/tfjs-node: native TensorFlow on the CPU.
import os from 'node:os';
import { TfjsEngine, cpuName, startNative } from './tfjs-common.js';
import type { EngineFamily } from './family.js';

export const family: EngineFamily = {
  async start({ deps }) {
    const probe = await startNative('tensorflow', deps.importNative);
    if (probe.status !== 'available') return { ok: false, probe, permanent: true };
    const label = `tensorflow (CPU: ${probe.package} ${probe.version ?? ''})`.replace(' )', ')');
    return { ok: true, probe: { ...probe, device: 'cpu' }, details: { backend: 'tensorflow', label, threads: os.availableParallelism(), device: 'cpu', provider: 'cpu', adapter: cpuName(), gpu: false } };
  },
  create: (choice) => new TfjsEngine(choice),
  async probe(deps, earlier) {
    // tfjs-node and tfjs-node-gpu both register 'tensorflow': only probe the CPU build when the GPU one is absent.
    if (earlier.some((p) => p.candidate === 'tensorflow-gpu' && p.status === 'available')) {
      return { candidate: 'tensorflow', package: '@tensorflow/tfjs-node', status: 'not-installed', reason: 'not probed: @tensorflow/tfjs-node-gpu already provides the tensorflow backend' };
    }
    const probe = await startNative('tensorflow', deps.importNative);
    return probe.status === 'available' ? { ...probe, device: 'cpu' } : probe;
  },
};
