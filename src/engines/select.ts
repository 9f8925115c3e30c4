// Starts the engine a command asks for: walks the table (backends.ts) in order, per
// device (auto: a real GPU first, then the CPU), records why each candidate was or was
// not taken, and hands back an Engine. Nothing is remembered between calls: whoever
// asks gets their own Engine and passes it on.
import { tf } from '../tf.js';
import { BackbonesError } from '../errors.js';
import { BACKENDS, type BackendRow } from './backends.js';
import { GPU_PROVIDERS } from './devices.js';
import { resolveRequest, type ResolvedRequest } from './request.js';
import { probeWebgpu } from './webgpu-probe.js';
import type { BackendChoice, BackendProbe, Candidate, Device, Engine, EngineDeps, EngineRequest, WebgpuReport } from './types.js';

const TENSORFLOW_HINT = 'Install @tensorflow/tfjs-node-gpu (CUDA 11.2 + cuDNN 8.1) or @tensorflow/tfjs-node, or use --backend wasm.';

/** The rows to try and the devices to try them on, in order. */
function plan(request: ResolvedRequest): { rows: BackendRow[]; devices: Device[] } {
  const all = BACKENDS as readonly BackendRow[];
  if (request.providers) {
    const gpu = request.providers.some((p) => GPU_PROVIDERS.includes(p));
    return { rows: all.filter((r) => r.backend === 'onnx'), devices: [gpu ? 'gpu' : 'cpu'] };
  }
  const rows = request.backend === 'auto' ? [...all] : all.filter((r) => r.backend === request.backend);
  return { rows, devices: request.device === 'auto' ? ['gpu', 'cpu'] : [request.device] };
}

function failure(request: ResolvedRequest, attempts: BackendProbe[]): BackbonesError {
  const reasons = attempts.map((a) => a.reason).join('; ');
  if (request.backend !== 'auto' || request.providers) {
    const name = request.providers ? 'onnx' : request.backend;
    return new BackbonesError('E_BACKEND', `The ${name} backend cannot start: ${reasons}.${name === 'tensorflow' ? ` ${TENSORFLOW_HINT}` : ''}`);
  }
  if (request.device === 'gpu') return new BackbonesError('E_BACKEND', `--device gpu: no GPU engine could start: ${reasons}.`);
  return new BackbonesError('E_BACKEND', `No TensorFlow.js backend could start: ${reasons}.`);
}

/** Starts the engine for a request ({} = auto everything) and says what it chose and why. */
export async function startEngine(request: EngineRequest = {}, deps: EngineDeps = {}): Promise<Engine> {
  const resolved = resolveRequest(request, deps.env);
  const { rows, devices } = plan(resolved);
  const attempts: BackendProbe[] = [];
  const unusable = new Set<Candidate>();
  for (const device of devices) {
    for (const row of rows) {
      if (!row.devices.includes(device) || unusable.has(row.candidate)) continue;
      const family = await row.load();
      const ctx = { device, request: resolved, deps };
      const result = await family.start(ctx);
      attempts.push(result.probe);
      if (!result.ok) {
        if (result.permanent) unusable.add(row.candidate);
        continue;
      }
      const skipped = attempts.filter((a) => a !== result.probe && a.status !== 'available').map((a) => a.reason);
      const backend = result.details.backend;
      const reason =
        resolved.backend === 'auto' && !resolved.providers
          ? skipped.length > 0
            ? `auto chose ${backend} because ${skipped.join('; ')}`
            : `auto chose ${backend}, the first available backend`
          : `${resolved.providers ? `--provider ${resolved.providers.join(',')}` : backend} was requested${skipped.length > 0 ? `; ${result.details.device} because ${skipped.join('; ')}` : ''}`;
      const choice: BackendChoice = {
        ...result.details,
        requested: resolved.backend,
        deviceRequested: resolved.device,
        reason,
        attempts,
        tfjsVersion: tf.version.tfjs,
        tfjsBackend: tf.getBackend(),
      };
      return family.create(choice, ctx);
    }
  }
  throw failure(resolved, attempts);
}

/** The line every command logs: engine and provider (the label), then the adapter. */
export function engineLine(choice: BackendChoice): string {
  return `${choice.label} on ${choice.device === 'gpu' ? 'GPU' : 'CPU'} ${choice.adapter} (${choice.reason})`;
}

/**
 * doctor: every row's package (native ones are imported: that is the only real test of
 * them) and the WebGPU adapters; starts nothing else.
 */
export async function probeEngines(deps: EngineDeps = {}): Promise<{ backends: BackendProbe[]; webgpu: WebgpuReport }> {
  const backends: BackendProbe[] = [];
  for (const row of BACKENDS) backends.push(await (await row.load()).probe(deps, backends));
  const webgpu = await (deps.probeWebgpu ?? probeWebgpu)({ ort: 'if-hardware' });
  return { backends, webgpu };
}
