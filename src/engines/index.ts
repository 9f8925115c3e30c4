// The engine seam's public face: start an engine, probe them all, the table and the types.
export { startEngine, probeEngines, engineLine } from './select.js';
export { resolveRequest, engineRequest, type EngineOptions } from './request.js';
export { BACKENDS, BACKEND_CHOICES, parseBackendRequest, type BackendRequest, type BackendName, type BackendRow } from './backends.js';
export { DEVICE_CHOICES, GPU_PROVIDERS, parseDeviceRequest, parseProviderList } from './devices.js';
export type * from './types.js';
