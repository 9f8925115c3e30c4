// bench --precisions fp32,int8: int8 only pays where the CPU's integer kernels beat its
// float ones (VNNI/AMX help most); say so when it did not on this machine.
import type { BenchReport } from './result.js';

/** One warning per model, backend and batch size where int8 ran no faster than fp32. */
export function int8NotFaster(report: BenchReport): string[] {
  const warnings: string[] = [];
  const ok = report.models.filter((m) => m.status === 'ok');
  for (const int8 of ok.filter((m) => m.precision === 'int8')) {
    const fp32 = ok.find((m) => m.model === int8.model && m.backend === int8.backend && m.precision === 'fp32');
    if (!fp32) continue;
    for (const run of int8.runs) {
      const base = fp32.runs.find((r) => r.batchSize === run.batchSize);
      if (base && run.imagesPerSecond <= base.imagesPerSecond) {
        warnings.push(
          `${int8.model} batch ${run.batchSize}: int8 is not faster than fp32 on this machine (${run.imagesPerSecond.toFixed(2)} vs ${base.imagesPerSecond.toFixed(2)} img/s); keep fp32 here.`,
        );
      }
    }
  }
  return warnings;
}
