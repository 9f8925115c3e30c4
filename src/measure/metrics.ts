// The derived fields of a bench result: formulas over what was measured.

/** batchSize × runs / total timed seconds. Throws on an empty or zero-time sample. */
export function imagesPerSecond(batchSize: number, samplesMs: readonly number[]): number {
  const totalMs = samplesMs.reduce((a, b) => a + b, 0);
  if (samplesMs.length === 0 || !(totalMs > 0)) {
    throw new Error(`Cannot compute images per second without positive timed runs. Received: ${samplesMs.length} samples, ${totalMs} ms total`);
  }
  return (batchSize * samplesMs.length) / (totalMs / 1000);
}

/** 2 × MACs × images/s / 1e9 (one multiply-accumulate = 2 FLOPs); null when MACs are unknown. */
export function gflopsPerSecond(macsPerImage: number | null, imagesPerSec: number): number | null {
  return macsPerImage === null ? null : (2 * macsPerImage * imagesPerSec) / 1e9;
}

/**
 * The overlap limit of a pipelined run: images/s if decoding (+ preprocessing) and the
 * model overlapped perfectly and kept every core busy, `1000 × cores / (decode +
 * preprocess + model CPU ms per image)`; null when a CPU time is unknown.
 */
export function overlapLimit(cores: number, decodeCpuMs: number | null, preprocessCpuMs: number | null, modelCpuMs: number): number | null {
  if (decodeCpuMs === null || preprocessCpuMs === null) return null;
  const perImage = decodeCpuMs + preprocessCpuMs + modelCpuMs;
  return perImage > 0 ? (1000 * cores) / perImage : null;
}
