// Backend names, apart from backend.ts so that the CLI can list them without
// loading TensorFlow.js (--help, models and doctor stay fast).
import { usageError } from '../errors.js';

export const BACKEND_CHOICES = ['auto', 'tensorflow', 'onnx', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKEND_CHOICES)[number];

export function parseBackendRequest(value: string | undefined): BackendRequest {
  const v = (value ?? 'auto').toLowerCase();
  if ((BACKEND_CHOICES as readonly string[]).includes(v)) return v as BackendRequest;
  throw usageError(`Unknown backend "${value}": valid backends are ${BACKEND_CHOICES.join(', ')}.`);
}
