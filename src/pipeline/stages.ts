// Which stage limits an overlapped run, and the per-image figures behind it.
import type { PipelineStats } from './batches.js';

export type Stage = 'decode' | 'preprocess' | 'inference';

export interface StageReport {
  /** Per decoded image, wall time inside a decode thread, ms (waits included: two images are in flight per thread). */
  decodeMsPerImage: number | null;
  /**
   * Per decoded image, CPU time of decoding: the decode pool's CPU (its threads and
   * libvips') less what resize + preprocess took in the decode threads; null when not
   * measurable (decoding in the main thread, or not Linux).
   */
  decodeCpuMsPerImage: number | null;
  /** Per decoded image, CPU time of resize + preprocess in the decode threads; null when not measured. */
  preprocessCpuMsPerImage: number | null;
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
 * Nothing is claimed before the engine has run a batch: until then its time is unknown.
 */
export function stageReport(s: PipelineStats): StageReport {
  const per = (ms: number, n: number) => (n > 0 ? ms / n : null);
  const decode = per(s.decodeMs, s.decoded);
  const prep = per(s.resizeMs + s.preprocessMs, s.decoded);
  const prepCpu = s.preprocessCpuImages === s.decoded ? per(s.preprocessCpuMs, s.decoded) : null;
  const decodeCpu = s.poolCpuMs !== null && s.decodeThreads > 0 && prepCpu !== null && s.decoded > 0 ? Math.max(0, s.poolCpuMs - s.preprocessCpuMs) / s.decoded : null;
  const ok = s.images - s.failed;
  let limitingStage: Stage | null = null;
  if (s.batches > 0) {
    if (s.inferenceMs >= s.waitMs) limitingStage = 'inference';
    else if (decodeCpu !== null && prepCpu !== null) limitingStage = decodeCpu >= prepCpu ? 'decode' : 'preprocess';
    else limitingStage = (decode ?? 0) >= (prep ?? 0) ? 'decode' : 'preprocess';
  }
  return {
    decodeMsPerImage: decode,
    decodeCpuMsPerImage: decodeCpu,
    preprocessCpuMsPerImage: prepCpu,
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
  // CPU time where measured: wall time in a decode thread includes waiting for a core.
  const decode = r.decodeCpuMsPerImage !== null ? `${ms(r.decodeCpuMsPerImage)} CPU` : `${ms(r.decodeMsPerImage)} wall`;
  const prep = r.preprocessCpuMsPerImage !== null ? `${ms(r.preprocessCpuMsPerImage)} CPU` : `${ms(r.preprocessMsPerImage)} wall`;
  return (
    `per image: decode ${decode}, preprocess ${prep} ` +
    `(${s.decodeThreads === 0 ? 'in the main thread' : `${s.decodeThreads} decode thread${s.decodeThreads === 1 ? '' : 's'}`}, pool CPU ${pct(r.poolCpuPercent)}); ` +
    `inference ${ms(r.inferenceMsPerImage)}; engine waited ${pct(r.engineWaitShare === null ? null : 100 * r.engineWaitShare)} of the time` +
    (r.limitingStage ? ` → limited by ${r.limitingStage}` : '')
  );
}
