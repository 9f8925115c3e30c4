// The end-to-end section of the terminal table (`bench --images`): per model and batch
// size, the pipeline's img/s next to the model's, stage times, pool CPU and the limit.
import type { BenchReport } from '../result.js';
import { NA } from './format.js';

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

export function endToEndLines(report: BenchReport): string[] {
  const lines: string[] = [];
  for (const m of report.models) {
    for (const r of m.runs) {
      const e = r.endToEnd;
      if (!e) continue;
      if (lines.length === 0) lines.push('', 'End to end (--images: decode pool → prefetch → engine, overlapped):');
      const pool = e.poolCpuPercentOfOneCore === null ? NA : `${e.poolCpuPercentOfOneCore.toFixed(0)} %`;
      const limit =
        e.overlapLimitImagesPerSecond === null || e.percentOfOverlapLimit === null
          ? `overlap limit ${NA} (decode CPU not measurable)`
          : `${e.percentOfOverlapLimit.toFixed(0)} % of the overlap limit ${e.overlapLimitImagesPerSecond.toFixed(1)} img/s (${e.cores} cores / (decode + preprocess + model CPU per image))`;
      const cpu = (v: number | null, wall: number) => (v === null ? `${ms(wall)} ms wall` : `${ms(v)} ms`);
      lines.push(
        `  ${m.model}${m.backend ? ` on ${m.backend}` : ''}, batch ${r.batchSize}, --decode ${e.decode}: ` +
          `${e.imagesPerSecond.toFixed(1)} img/s end to end vs ${e.modelImagesPerSecond.toFixed(1)} model-only (${e.percentOfModel.toFixed(0)} %), ${limit}; ` +
          `${e.failed === 0 ? 'no file failed' : `${e.failed} file${e.failed === 1 ? '' : 's'} failed to decode (not counted)`}; ` +
          `CPU per image: decode ${cpu(e.decodeCpuMsPerImage, e.decodeMsPerImage)}, preprocess ${cpu(e.preprocessCpuMsPerImage, e.preprocessMsPerImage)}, model ${ms(e.modelCpuMsPerImage)} ms; inference ${ms(e.inferenceMsPerImage)} ms wall; ` +
          `${e.decodeThreads} decode thread${e.decodeThreads === 1 ? '' : 's'}, pool CPU ${pool}, engine waited ${e.engineWaitPercent.toFixed(0)} %; ` +
          `limited by ${e.limitingStage} (${e.images} images × ${e.passes} pass${e.passes === 1 ? '' : 'es'})`,
      );
    }
  }
  return lines;
}
