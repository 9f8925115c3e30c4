// Which stage limits an overlapped run, and the per-image figures behind it.
import type { PipelineStats } from './batches.js';

export type Stage = 'decode' | 'preprocess' | 'inference';

export interface StageReport {
  /** Per decoded image, wall time inside a decode thread, ms. */
  decodeMsPerImage: number | null;
  /** Resize + normalise per decoded image, ms. */
  preprocessMsPerImage: number | null;
  /** Engine time per image (inference wall time / images), ms. */
  inferenceMsPerImage: number | null;
  /** Share of the run's wall time the engine spent waiting for images, 0..1. */
  engineWaitShare: number | null;
  /** CPU of the decode pool over the run's wall time, % of one core (100 = one core). */
  poolCpuPercent: number | null;
  /** The stage that sets the pace (see limitingStage). */
  limitingStage: Stage | null;
}

/**
 * The engine and the decode pool overlap, so the run goes at the pace of the slower:
 * when the engine waited for images longer than it computed, the pool is the limit
 * (decode or preprocess, whichever takes longer per image), otherwise the engine.
 */
export function stageReport(s: PipelineStats): StageReport {
  const per = (ms: number, n: number) => (n > 0 ? ms / n : null);
  const decode = per(s.decodeMs, s.decoded);
  const prep = per(s.resizeMs + s.preprocessMs, s.decoded);
  const ok = s.images - s.failed;
  let limitingStage: Stage | null = null;
  if (s.images > 0) {
    if (s.inferenceMs >= s.waitMs) limitingStage = 'inference';
    else limitingStage = (decode ?? 0) >= (prep ?? 0) ? 'decode' : 'preprocess';
  }
  return {
    decodeMsPerImage: decode,
    preprocessMsPerImage: prep,
    inferenceMsPerImage: per(s.inferenceMs, ok),
    engineWaitShare: s.wallMs > 0 ? s.waitMs / s.wallMs : null,
    poolCpuPercent: s.poolCpuMs !== null && s.wallMs > 0 ? (100 * s.poolCpuMs) / s.wallMs : null,
    limitingStage,
  };
}

/** One line for --verbose: per-image stage times, engine waits, pool CPU, the limit. */
export function stageLine(s: PipelineStats): string {
  const r = stageReport(s);
  const ms = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(1)} ms`);
  const pct = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(0)} %`);
  return (
    `per image: decode ${ms(r.decodeMsPerImage)}, preprocess ${ms(r.preprocessMsPerImage)} ` +
    `(${s.decodeThreads === 0 ? 'in the main thread' : `${s.decodeThreads} decode thread${s.decodeThreads === 1 ? '' : 's'}`}, pool CPU ${pct(r.poolCpuPercent)}); ` +
    `inference ${ms(r.inferenceMsPerImage)}; engine waited ${pct(r.engineWaitShare === null ? null : 100 * r.engineWaitShare)} of the time` +
    (r.limitingStage ? ` → limited by ${r.limitingStage}` : '')
  );
}
