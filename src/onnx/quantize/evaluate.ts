// int8 against fp32 on held-out images: agreement of the classifier, similarity of the
// feature layer, and the speed-up measured here (interleaved runs, one process). The
// agreement and the alternating timing serve fp16's evaluation too (onnx/fp16-evaluate.ts).
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { InferenceSession } from 'onnxruntime-node';
import { loadOrt } from '../ort.js';
import type { CalibrationBatch } from './calibrate.js';

export interface Int8Evaluation {
  images: number;
  /** Share of images whose top-1 class is the same (null: no classifier output). */
  top1Agreement: number | null;
  /** Mean |top5(fp32) ∩ top5(int8)| / 5. */
  top5Overlap: number | null;
  featureLayer: string | null;
  featureCosineMean: number | null;
  featureCosineWorst: number | null;
  /** fp32 median batch time / int8 median batch time, same batch, alternating runs. */
  speedup: number;
  speed: { batchSize: number; runs: number; fp32MedianMs: number; int8MedianMs: number; threads: number; loadAverage: number[] };
}

function topK(row: Float32Array, k: number): number[] {
  return Array.from(row, (v, i) => [v, i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, i]) => i);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  if (na === 0 && nb === 0) return 1;
  return na === 0 || nb === 0 ? 0 : d / Math.sqrt(na * nb);
}

function rows(data: Float32Array, n: number): Float32Array[] {
  const per = data.length / n;
  return Array.from({ length: n }, (_, i) => data.subarray(i * per, (i + 1) * per));
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface EvaluateOptions {
  /** The classifier output (probabilities or logits); null for a headless model. */
  classifierOutput: string | null;
  featureOutput: string | null;
  threads: number;
  /** Least timed runs per precision (after one warm-up each); more until each precision has run 2 s, at most 30. */
  speedRuns?: number;
  speedBatchSize?: number;
}

/** How a candidate model's outputs agree with a reference's on the same images. */
export interface Agreement {
  images: number;
  /** Share of images whose top-1 class is the same (null: no classifier output). */
  top1Agreement: number | null;
  /** Mean |top5(reference) ∩ top5(candidate)| / 5. */
  top5Overlap: number | null;
  /** Largest |p_reference - p_candidate| over every class of every image (null: no classifier output). */
  maxProbabilityDiff: number | null;
  featureLayer: string | null;
  featureCosineMean: number | null;
  featureCosineWorst: number | null;
}

/** The classifier and feature outputs of a session over `batches`, one row per image. */
export async function outputRows(session: InferenceSession, batches: CalibrationBatch[], opts: Pick<EvaluateOptions, 'classifierOutput' | 'featureOutput'>): Promise<Record<string, Float32Array[]>> {
  const ort = await loadOrt();
  const fetches = [opts.classifierOutput, opts.featureOutput].filter((x): x is string => x !== null);
  const out: Record<string, Float32Array[]> = Object.fromEntries(fetches.map((f) => [f, []]));
  for (const batch of batches) {
    const r = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', batch.data, batch.shape) }, fetches);
    for (const f of fetches) out[f]!.push(...rows(r[f]!.data as Float32Array, batch.shape[0]));
  }
  return out;
}

/** top-1 agreement, top-5 overlap, largest probability difference and feature cosines of `test` against `reference` (rows from outputRows). */
export function agreement(reference: Record<string, Float32Array[]>, test: Record<string, Float32Array[]>, opts: Pick<EvaluateOptions, 'classifierOutput' | 'featureOutput'>): Agreement {
  const images = (reference[opts.classifierOutput ?? opts.featureOutput ?? ''] ?? []).length;
  let agree = 0;
  let overlap = 0;
  let maxDiff = 0;
  const cosines: number[] = [];
  for (let i = 0; i < images; i++) {
    if (opts.classifierOutput) {
      const pa = reference[opts.classifierOutput]![i]!;
      const pb = test[opts.classifierOutput]![i]!;
      const k = Math.min(5, pa.length);
      const ta = topK(pa, k);
      const tb = topK(pb, k);
      if (ta[0] === tb[0]) agree++;
      overlap += ta.filter((c) => tb.includes(c)).length / k;
      for (let j = 0; j < pa.length; j++) maxDiff = Math.max(maxDiff, Math.abs(pa[j]! - pb[j]!));
    }
    if (opts.featureOutput) cosines.push(cosine(reference[opts.featureOutput]![i]!, test[opts.featureOutput]![i]!));
  }
  return {
    images,
    top1Agreement: opts.classifierOutput ? agree / images : null,
    top5Overlap: opts.classifierOutput ? overlap / images : null,
    maxProbabilityDiff: opts.classifierOutput ? maxDiff : null,
    featureLayer: opts.featureOutput,
    featureCosineMean: cosines.length ? cosines.reduce((s, c) => s + c, 0) / cosines.length : null,
    featureCosineWorst: cosines.length ? Math.min(...cosines) : null,
  };
}

/**
 * Median batch times of two sessions on one batch of `speedBatchSize` images (the
 * evaluation images, repeated), alternating runs so that both see the same machine load.
 */
export async function alternatingMedians(
  a: InferenceSession,
  b: InferenceSession,
  batches: CalibrationBatch[],
  opts: Pick<EvaluateOptions, 'speedRuns' | 'speedBatchSize'>,
): Promise<{ batchSize: number; runs: number; aMedianMs: number; bMedianMs: number; loadAverage: number[] }> {
  const ort = await loadOrt();
  const batchSize = opts.speedBatchSize ?? 8;
  const minRuns = opts.speedRuns ?? 5;
  const first = batches[0]!;
  const per = first.data.length / first.shape[0];
  const data = new Float32Array(batchSize * per);
  const all = batches.flatMap((bt) => rows(bt.data, bt.shape[0]));
  for (let i = 0; i < batchSize; i++) data.set(all[i % all.length]!, i * per);
  const shape = [batchSize, ...first.shape.slice(1)] as number[];
  const feed = (s: InferenceSession) => ({ [s.inputNames[0]!]: new ort.Tensor('float32', data, shape) });
  const time = async (s: InferenceSession) => {
    const t0 = performance.now();
    await s.run(feed(s), [s.outputNames[0]!]);
    return performance.now() - t0;
  };
  await time(a);
  await time(b);
  const ta: number[] = [];
  const tb: number[] = [];
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  while (ta.length < 30 && (ta.length < minRuns || Math.min(sum(ta), sum(tb)) < 2000)) {
    ta.push(await time(a));
    tb.push(await time(b));
  }
  return { batchSize, runs: ta.length, aMedianMs: median(ta), bMedianMs: median(tb), loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100) };
}

export async function evaluateInt8(
  fp32: Uint8Array,
  int8: Uint8Array,
  batches: CalibrationBatch[],
  opts: EvaluateOptions,
): Promise<Int8Evaluation> {
  const ort = await loadOrt();
  const sessionOptions: InferenceSession.SessionOptions = {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const a = await ort.InferenceSession.create(fp32, sessionOptions);
  const b = await ort.InferenceSession.create(int8, sessionOptions);
  try {
    const { maxProbabilityDiff: _d, ...agreed } = agreement(await outputRows(a, batches, opts), await outputRows(b, batches, opts), opts);
    const speed = await alternatingMedians(a, b, batches, opts);
    return {
      ...agreed,
      speedup: speed.aMedianMs / speed.bMedianMs,
      speed: { batchSize: speed.batchSize, runs: speed.runs, fp32MedianMs: speed.aMedianMs, int8MedianMs: speed.bMedianMs, threads: opts.threads, loadAverage: speed.loadAverage },
    };
  } finally {
    await a.release();
    await b.release();
  }
}
