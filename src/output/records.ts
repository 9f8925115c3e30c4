// What classify and extract produce per input, and how records become text.
export interface Prediction {
  index: number;
  wnid: string | null;
  label: string;
  prob: number;
}

export interface ClassifyRecord {
  path: string;
  model: string;
  predictions: Prediction[];
}

export interface ExtractRecord {
  path: string;
  model: string;
  layer: string;
  /** Shape of the vector before flattening: the layer's per-image shape (e.g. [7, 7, 512]), or [c] after --pool. */
  shape: number[];
  vector: Float32Array;
}

export interface ErrorRecord {
  path: string;
  error: string;
}

export type OutputRecord = ClassifyRecord | ExtractRecord | ErrorRecord;
export type RecordKind = 'classify' | 'extract';

export function isError(r: OutputRecord): r is ErrorRecord {
  return 'error' in r;
}

/**
 * Shortest decimal that reads back as the same float32 (at most 9 significant
 * digits, the float32 round-trip bound), so JSON/CSV vectors round-trip exactly.
 */
export function float32ToString(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  for (let p = 6; p < 9; p++) {
    const s = x.toPrecision(p);
    if (Math.fround(Number(s)) === x) return String(Number(s));
  }
  return String(Number(x.toPrecision(9)));
}

/** One JSON line; vectors written with float32-exact digits (not JSON.stringify's float64 ones). */
export function recordToJson(r: OutputRecord): string {
  if ('vector' in r) {
    const { vector, ...rest } = r;
    const head = JSON.stringify(rest);
    let body = '';
    for (let i = 0; i < vector.length; i++) body += (i ? ',' : '') + float32ToString(vector[i]!);
    return `${head.slice(0, -1)},"vector":[${body}]}`;
  }
  return JSON.stringify(r);
}
