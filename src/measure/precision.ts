// bench --precisions fp32,int8 / fp32,fp16: a lower precision only pays where the
// hardware's kernels for it beat its float32 ones (int8: VNNI/AMX CPUs; fp16: GPUs with
// fast half arithmetic); say so when it did not on this machine.
import type { BenchReport } from './result.js';

/** One warning per model, backend and batch size where a non-fp32 precision ran no faster than fp32. */
export function precisionNotFaster(report: BenchReport): string[] {
  const warnings: string[] = [];
  const ok = report.models.filter((m) => m.status === 'ok');
  for (const low of ok.filter((m) => m.precision !== undefined && m.precision !== 'fp32')) {
    const fp32 = ok.find((m) => m.model === low.model && m.backend === low.backend && m.precision === 'fp32');
    if (!fp32) continue;
    for (const run of low.runs) {
      const base = fp32.runs.find((r) => r.batchSize === run.batchSize);
      if (base && run.imagesPerSecond <= base.imagesPerSecond) {
        warnings.push(
          `${low.model} batch ${run.batchSize}: ${low.precision} is not faster than fp32 on this machine (${run.imagesPerSecond.toFixed(2)} vs ${base.imagesPerSecond.toFixed(2)} img/s); keep fp32 here.`,
        );
      }
    }
  }
  return warnings;
}
