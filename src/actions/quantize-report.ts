// The people-readable report of `backbones quantize` (JSON is the same object).
import { out, plural } from '../log.js';
import type { Int8Evaluation } from '../onnx/quantize/evaluate.js';
import type { Int8Cpu } from '../onnx/quantize/cpu.js';
import type { WeightScheme } from '../onnx/quantize/encoding.js';

export interface QuantizeReport {
  model: string;
  weights: string;
  calibration: { dir: string; images: number; skipped: number; method: string; percentile?: number };
  quantizedConvs: number;
  floatLayers: Array<{ layer: string; op: string; why: string }>;
  optimizedGraph: { integerKernels: number; leftoverQdq: number; floatConvs: number };
  /** How the weights are stored (s8 or u8, per conv kind) and the CPU that encoding was chosen for: this one. */
  encoding: { scheme: WeightScheme | null; label: string; cpu: Int8Cpu; cpuLabel: string };
  evaluation: Int8Evaluation | null;
  quantizeMs: number;
  sizeByte: number;
  fp32SizeByte: number;
  cacheFile: string;
  output: string | null;
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
const num = (x: number | null, d = 4) => (x === null ? 'n/a' : x.toFixed(d));
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;

export function formatQuantizeReport(r: QuantizeReport): string {
  const lines = [
    out.bold(`${r.model} int8`) + `  (${r.weights})`,
    `  calibration      ${plural(r.calibration.images, 'image')} from ${r.calibration.dir}${r.calibration.skipped ? ` (${r.calibration.skipped} unreadable, skipped)` : ''}, ${r.calibration.method}${r.calibration.percentile ? ` ${r.calibration.percentile}` : ''}`,
    `  int8 convs       ${r.quantizedConvs}; ONNX Runtime runs ${r.optimizedGraph.integerKernels} integer kernels, ${r.optimizedGraph.floatConvs} float convs, ${r.optimizedGraph.leftoverQdq} Q/DQ conversions`,
    `  weights          ${r.encoding.label}, the encoding this CPU computes exactly: ${r.encoding.cpuLabel}`,
    `  kept in fp32     ${r.floatLayers.length ? r.floatLayers.map((l) => `${l.layer} (${l.why})`).join(', ') : 'none'}`,
    `  size             ${mib(r.sizeByte)} (fp32 ${mib(r.fp32SizeByte)})`,
    `  quantized in     ${(r.quantizeMs / 1000).toFixed(1)} s`,
  ];
  const e = r.evaluation;
  if (e) {
    lines.push(
      out.bold(`against fp32 on ${e.images} held-out images`),
      `  top-1 agreement  ${pct(e.top1Agreement)}`,
      `  top-5 overlap    ${pct(e.top5Overlap)}`,
      `  feature cosine   mean ${num(e.featureCosineMean)}, worst ${num(e.featureCosineWorst)}${e.featureLayer ? ` (${e.featureLayer})` : ''}`,
      `  speed-up         ${e.speedup.toFixed(2)}x (batch ${e.speed.batchSize}, median of ${e.speed.runs} alternating runs: fp32 ${e.speed.fp32MedianMs.toFixed(1)} ms, int8 ${e.speed.int8MedianMs.toFixed(1)} ms, ${e.speed.threads} threads, load average ${e.speed.loadAverage.join(' ')})`,
    );
  }
  lines.push(out.dim(`  cached at ${r.cacheFile}`));
  if (r.output) lines.push(`  written to ${r.output}`);
  return lines.join('\n') + '\n';
}
