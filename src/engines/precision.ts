// The precisions a model can run at: one row each. The --precision choices, bench's
// --precisions, the spec and the engine seam all read this table, so a new precision
// (fp16 on WebGPU, say) is one row here plus the engine that runs it.

export interface PrecisionRow {
  readonly name: string;
  /** The backends that run it; undefined: every backend. */
  readonly backends?: readonly string[];
  /** For --help and messages. */
  readonly summary: string;
}

export const PRECISION_TABLE = [
  { name: 'fp32', summary: 'float32, every engine' },
  { name: 'int8', backends: ['onnx'], summary: 'int8 QDQ model on ONNX Runtime (needs --calibrate, --int8-model or a cached int8 model)' },
] as const satisfies readonly PrecisionRow[];

export type Precision = (typeof PRECISION_TABLE)[number]['name'];

/** Every precision, in the table's order (the CLI's choices). */
export const PRECISIONS: readonly Precision[] = PRECISION_TABLE.map((r) => r.name);

export function precisionRow(p: Precision): PrecisionRow {
  return PRECISION_TABLE.find((r) => r.name === p)!;
}

/** Whether `backend` can run `p` ('auto' can: it may pick one that does). */
export function backendRuns(p: Precision, backend: string): boolean {
  const row = precisionRow(p);
  return backend === 'auto' || row.backends === undefined || row.backends.includes(backend);
}
