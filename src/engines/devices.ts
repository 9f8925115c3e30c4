// Devices and provider lists: the vocabulary of --device and --provider.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
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

/** Providers onnxruntime-node lists but ships only after its install script fetched their library. */
export const PROVIDER_LIBRARIES: Readonly<Record<string, string>> = {
  cuda: 'libonnxruntime_providers_cuda.so',
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
};

/** Where onnxruntime-node keeps its native libraries, or null when the package is not installed. */
export function ortLibraryDir(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    return path.join(path.dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/**
 * Whether a provider's library is there (the package lists cuda/tensorrt but ships them
 * only after `script/install --onnxruntime-node-install=cuda12`); providers without one are.
 */
export function providerLibraryInstalled(provider: string): boolean {
  const lib = PROVIDER_LIBRARIES[provider];
  if (!lib) return true;
  const dir = ortLibraryDir();
  return dir !== null && existsSync(path.join(dir, lib));
}
