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
