// Numeric comparison for parity tests: max |a - b| over max |reference|.
export function maxRelDiff(reference: ArrayLike<number>, actual: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    diff = Math.max(diff, Math.abs(reference[i]! - actual[i]!));
    scale = Math.max(scale, Math.abs(reference[i]!));
  }
  return diff / scale;
}
