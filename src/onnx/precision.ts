// THE table of precisions a model can run at (--precision, bench --precisions, the spec,
// the engine seam). Adding a precision = one row here + what makes its model (int8:
// quantize/, fp16: fp16.ts). Loads nothing: the CLI lists the choices from it for --help,
// the spec checks a request with it before anything starts.

export interface PrecisionRow {
  name: string;
  /** One line for --help. */
  summary: string;
  /** Runs on the onnx engine only (its model is an ONNX graph the exporter derives). */
  onnxOnly: boolean;
  /** Runs on a GPU engine only (a CPU has no fast kernels for it). */
  gpuOnly: boolean;
  /** A WebGPU adapter feature the webgpu provider needs for it (checked on the adapter ORT takes). */
  webgpuFeature?: string;
}

export const PRECISION_TABLE = [
  { name: 'fp32', summary: 'float32, the reference', onnxOnly: false, gpuOnly: false },
  { name: 'int8', summary: 'int8 weights and activations calibrated on images (needs --calibrate, --int8-model or a cached int8 model)', onnxOnly: true, gpuOnly: false },
  { name: 'fp16', summary: 'float16 weights and activations on a GPU (webgpu needs an adapter with shader-f16)', onnxOnly: true, gpuOnly: true, webgpuFeature: 'shader-f16' },
] as const satisfies readonly PrecisionRow[];

export type Precision = (typeof PRECISION_TABLE)[number]['name'];

/** Every precision, in the table's order (the CLI's choices). */
export const PRECISIONS: readonly Precision[] = PRECISION_TABLE.map((p) => p.name);

export function precisionRow(name: Precision): PrecisionRow {
  return PRECISION_TABLE.find((p) => p.name === name)!;
}

/** Whether `backend` can run `p` ('auto' can: it may pick one that does). */
export function backendRuns(p: Precision, backend: string): boolean {
  return backend === 'auto' || !precisionRow(p).onnxOnly || backend === 'onnx';
}

/** What a precision check needs to know of an engine (a BackendChoice has it). */
export interface PrecisionTarget {
  backend: string;
  device: 'cpu' | 'gpu';
  /** The ONNX Runtime execution provider or the tfjs backend. */
  provider: string;
  /** For messages: the adapter (a CPU model, a WebGPU adapter). */
  adapter: string;
  /** The WebGPU adapter (webgpu provider only): its features. */
  webgpuAdapter?: { features: readonly string[] };
}

/**
 * Why `precision` cannot run on this engine, or null when it can. int8 on a tfjs engine
 * is answered by the spec (auto warns and runs fp32 there); this answers gpuOnly and the
 * adapter feature.
 */
export function precisionRefusal(precision: Precision, t: PrecisionTarget): string | null {
  const row = precisionRow(precision);
  if (row.onnxOnly && t.backend !== 'onnx') return `--precision ${precision} runs on the onnx engine, and ${t.backend} was chosen`;
  if (row.gpuOnly && t.device !== 'gpu') return `--precision ${precision} needs a GPU engine, and the engine computes on the CPU (${t.adapter}); use --device gpu or --provider webgpu`;
  if (row.webgpuFeature && t.provider === 'webgpu' && !(t.webgpuAdapter?.features ?? []).includes(row.webgpuFeature)) {
    return `--precision ${precision} needs the WebGPU feature ${row.webgpuFeature}, and the adapter ${t.adapter} does not offer it; use --precision fp32`;
  }
  return null;
}

/**
 * The same check on a request, before any engine starts: a precision that needs a GPU
 * with --device cpu or a CPU-only backend, one that needs onnx with a tfjs backend.
 */
export function precisionRequestRefusal(precision: Precision, r: { backend: string; device: string; providers?: readonly string[] }, gpuProviders: readonly string[]): string | null {
  const row = precisionRow(precision);
  if (!row.gpuOnly) return null;
  if (r.backend !== 'auto' && r.backend !== 'onnx') return `--precision ${precision} runs on the onnx engine; --backend ${r.backend} was asked for`;
  if (r.device === 'cpu') return `--precision ${precision} needs a GPU engine; --device cpu was asked for`;
  if (r.providers && !r.providers.some((p) => gpuProviders.includes(p))) return `--precision ${precision} needs a GPU provider (${gpuProviders.join(', ')}); --provider ${r.providers.join(',')} has none`;
  return null;
}
