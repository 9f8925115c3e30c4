// Devices and provider lists: the vocabulary of --device and --provider.
import { usageError } from '../errors.js';
import type { DeviceRequest } from './types.js';

export const DEVICE_CHOICES: readonly DeviceRequest[] = ['auto', 'cpu', 'gpu'];
/** ONNX Runtime providers that compute on a GPU. */
export const GPU_PROVIDERS: readonly string[] = ['webgpu', 'cuda', 'tensorrt'];

export function parseDeviceRequest(value: string | undefined): DeviceRequest {
  const v = (value || 'auto').toLowerCase();
  if ((DEVICE_CHOICES as readonly string[]).includes(v)) return v as DeviceRequest;
  throw usageError(`Unknown device "${value}": valid devices are ${DEVICE_CHOICES.join(', ')}.`);
}

/** "webgpu, cpu" → ['webgpu', 'cpu']; empty → undefined (the order then follows --device). */
export function parseProviderList(value: string | undefined): string[] | undefined {
  const list = (value ?? '').split(',').map((p) => p.trim().toLowerCase()).filter(Boolean);
  return list.length > 0 ? list : undefined;
}
