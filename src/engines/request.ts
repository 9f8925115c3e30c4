// What a command asks of the engines, checked before anything heavy loads (the bench
// parent validates with it without loading TensorFlow.js).
import { usageError } from '../errors.js';
import { BACKENDS, parseBackendRequest, type BackendRequest } from './backends.js';
import { GPU_PROVIDERS, parseDeviceRequest, parseProviderList } from './devices.js';
import type { DeviceRequest, EngineRequest } from './types.js';

export interface ResolvedRequest extends EngineRequest {
  backend: BackendRequest;
  device: DeviceRequest;
}

/**
 * The request with the environment's defaults (BACKBONES_DEVICE, BACKBONES_ONNX_PROVIDERS)
 * filled in and checked. providers: [] means none, whatever the environment says.
 */
export function resolveRequest(request: EngineRequest, env: NodeJS.ProcessEnv = process.env): ResolvedRequest {
  const backend = parseBackendRequest(request.backend);
  const device = parseDeviceRequest(request.device ?? env.BACKBONES_DEVICE);
  const providers = request.providers !== undefined ? (request.providers.length > 0 ? request.providers : undefined) : parseProviderList(env.BACKBONES_ONNX_PROVIDERS);
  if (request.threads !== undefined && (!Number.isInteger(request.threads) || request.threads < 1)) throw usageError(`--threads must be a positive integer. Received: ${request.threads}`);
  if (providers) {
    if (backend !== 'auto' && backend !== 'onnx') throw usageError(`--provider chooses ONNX Runtime's execution providers; it does not apply to --backend ${backend}.`);
    const gpu = providers.filter((p) => GPU_PROVIDERS.includes(p));
    if (device === 'cpu' && gpu.length > 0) throw usageError(`--device cpu contradicts --provider ${providers.join(',')}: ${gpu[0]} computes on a GPU.`);
    if (device === 'gpu' && gpu.length === 0) throw usageError(`--device gpu needs a GPU provider (${GPU_PROVIDERS.join(', ')}); --provider ${providers.join(',')} has none.`);
  }
  if (device === 'gpu' && backend !== 'auto' && !BACKENDS.some((r) => r.backend === backend && (r.devices as readonly string[]).includes('gpu'))) {
    throw usageError(`The ${backend} backend computes on the CPU only; --device gpu needs --backend auto, onnx or tensorflow.`);
  }
  return { backend, device, ...(request.threads !== undefined ? { threads: request.threads } : {}), ...(providers ? { providers } : {}) };
}
