// Activation ranges from calibration batches. Two methods:
//  - minmax: the smallest and largest value seen. Every calibration value is representable,
//    but one outlier pixel stretches the scale for all the others.
//  - percentile: clip at the p-th percentile of each tensor's values (both tails), from a
//    histogram of magnitudes whose bin width doubles when a batch exceeds it (so one pass,
//    bounded memory, and the same answer for the same batches in the same order).
export type RangeMethod = 'minmax' | 'percentile';
export const RANGE_METHODS: readonly RangeMethod[] = ['minmax', 'percentile'];

const BINS = 2048;

/** Histogram of |x| over [0, BINS * width): counts per bin, one for x > 0 and one for x < 0. */
class MagnitudeHistogram {
  readonly positive = new Float64Array(BINS);
  readonly negative = new Float64Array(BINS);
  width = 0;
  zeros = 0;

  add(data: Float32Array, maxAbs: number): void {
    if (this.width === 0) this.width = maxAbs > 0 ? maxAbs / BINS : 0;
    while (maxAbs >= this.width * BINS && this.width > 0) this.coarsen();
    if (this.width === 0) {
      this.zeros += data.length;
      return;
    }
    const inv = 1 / this.width;
    const pos = this.positive;
    const neg = this.negative;
    for (let i = 0; i < data.length; i++) {
      const x = data[i]!;
      if (x > 0) pos[Math.min(BINS - 1, Math.floor(x * inv))]! += 1;
      else if (x < 0) neg[Math.min(BINS - 1, Math.floor(-x * inv))]! += 1;
      else this.zeros += 1;
    }
  }

  /** Halves the resolution: bins 2k and 2k+1 become bin k. */
  private coarsen(): void {
    for (const h of [this.positive, this.negative]) {
      for (let k = 0; k < BINS / 2; k++) h[k] = h[2 * k]! + h[2 * k + 1]!;
      h.fill(0, BINS / 2);
    }
    this.width *= 2;
  }

  /** The magnitude below which all but `tail` of the values on one side lie. */
  bound(side: 'positive' | 'negative', tail: number): number {
    const h = this[side];
    let above = 0;
    for (let k = BINS - 1; k >= 0; k--) {
      above += h[k]!;
      if (above > tail) return (k + 1) * this.width;
    }
    return 0;
  }
}

export interface Range {
  min: number;
  max: number;
}

export class RangeCollector {
  private readonly minmax = new Map<string, Range>();
  private readonly histograms = new Map<string, MagnitudeHistogram>();
  private readonly counts = new Map<string, number>();

  constructor(
    readonly method: RangeMethod,
    /** percentile: the share of values kept inside the range, e.g. 99.999. */
    readonly percentile = 99.999,
  ) {}

  add(name: string, data: Float32Array): void {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const x = data[i]!;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    const seen = this.minmax.get(name);
    this.minmax.set(name, seen ? { min: Math.min(seen.min, min), max: Math.max(seen.max, max) } : { min, max });
    this.counts.set(name, (this.counts.get(name) ?? 0) + data.length);
    if (this.method === 'percentile') {
      let h = this.histograms.get(name);
      if (!h) this.histograms.set(name, (h = new MagnitudeHistogram()));
      h.add(data, Math.max(Math.abs(min), Math.abs(max)));
    }
  }

  names(): string[] {
    return [...this.minmax.keys()];
  }

  range(name: string): Range | undefined {
    const mm = this.minmax.get(name);
    if (!mm || this.method === 'minmax') return mm;
    const h = this.histograms.get(name)!;
    const tail = ((100 - this.percentile) / 100) * this.counts.get(name)!;
    // Never wider than what was seen, never narrower than one bin on a side that has values.
    const max = mm.max > 0 ? Math.min(mm.max, h.bound('positive', tail)) : mm.max;
    const min = mm.min < 0 ? -Math.min(-mm.min, h.bound('negative', tail)) : mm.min;
    return { min, max };
  }
}
