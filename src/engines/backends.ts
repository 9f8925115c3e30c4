// THE table of backends. It drives `auto` (rows in order of preference), explicit
// --backend requests, --device, doctor's list, labels and the library's types.
// Adding an engine = one file beside this one (an EngineFamily) + one row here + its name in
// the Candidate union (types.ts) and, for a new --backend name, in BackendRow.backend below.
// Loads nothing heavy: the CLI lists choices from it for --help.
import { usageError } from '../errors.js';
import type { Candidate, Device } from './types.js';
import type { EngineFamily } from './family.js';

export interface BackendRow {
  candidate: Candidate;
  /** The --backend name that selects it (two rows may share one: tfjs-node-gpu and tfjs-node). */
  backend: 'tensorflow' | 'onnx' | 'wasm' | 'cpu';
  /** npm package providing it. */
  package: string;
  /** Devices it can compute on. */
  devices: readonly Device[];
  /** One line for doctor and docs/gpu.md. */
  summary: string;
  /** Its engine file, loaded only when the row is used. */
  load(): Promise<EngineFamily>;
}

export const BACKENDS = [
  { candidate: 'tensorflow-gpu', backend: 'tensorflow', package: '@tensorflow/tfjs-node-gpu', devices: ['gpu', 'cpu'], summary: 'native TensorFlow with CUDA 11.2 + cuDNN 8.1', load: async () => (await import('./tfjs-node-gpu.js')).family },
  { candidate: 'tensorflow', backend: 'tensorflow', package: '@tensorflow/tfjs-node', devices: ['cpu'], summary: 'native TensorFlow on the CPU', load: async () => (await import('./tfjs-node.js')).family },
  { candidate: 'onnx', backend: 'onnx', package: 'onnxruntime-node', devices: ['gpu', 'cpu'], summary: 'ONNX Runtime: cpu, webgpu (Vulkan/Metal/D3D12), cuda, tensorrt providers', load: async () => (await import('./onnx.js')).family },
  { candidate: 'wasm', backend: 'wasm', package: '@tensorflow/tfjs-backend-wasm', devices: ['cpu'], summary: 'TensorFlow.js on WebAssembly (XNNPACK)', load: async () => (await import('./tfjs-wasm.js')).family },
  { candidate: 'cpu', backend: 'cpu', package: '@tensorflow/tfjs-backend-cpu', devices: ['cpu'], summary: 'TensorFlow.js in plain JavaScript (slow)', load: async () => (await import('./tfjs-cpu.js')).family },
] as const satisfies readonly BackendRow[];

export type BackendName = (typeof BACKENDS)[number]['backend'];
export type BackendRequest = 'auto' | BackendName;

export const BACKEND_CHOICES: readonly BackendRequest[] = ['auto', ...new Set(BACKENDS.map((r) => r.backend))];
export function parseBackendRequest(value: string | undefined): BackendRequest {
  const v = (value ?? 'auto').toLowerCase();
  if ((BACKEND_CHOICES as readonly string[]).includes(v)) return v as BackendRequest;
  throw usageError(`Unknown backend "${value}": valid backends are ${BACKEND_CHOICES.join(', ')}.`);
}
