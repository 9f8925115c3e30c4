// Memory a thread keeps for its next big array: a fresh multi-MB ArrayBuffer is zeroed,
// faulted in page by page and collected again, which costs measurable CPU per image or
// batch (bench/RESULTS.md §15). Used by the JPEG decoder's output buffers and by serve's
// batches, each with its own KeptBuffers.

export class KeptBuffers {
  private readonly spare: ArrayBuffer[] = [];

  /** Keeps at most `keep` buffers, none bigger than `maxBytes` (a huge one should not stay pinned once its use is gone). */
  constructor(
    private readonly keep: number,
    private readonly maxBytes = Infinity,
  ) {}

  /** The smallest kept buffer of at least `bytes` (no longer kept), or null. */
  take(bytes: number): ArrayBuffer | null {
    let best = -1;
    for (let i = 0; i < this.spare.length; i++) if (this.spare[i]!.byteLength >= bytes && (best < 0 || this.spare[i]!.byteLength < this.spare[best]!.byteLength)) best = i;
    return best < 0 ? null : this.spare.splice(best, 1)[0]!;
  }

  /** Keeps `buffer` for a later take(); beyond `keep`, the smallest is let go. */
  giveBack(buffer: ArrayBuffer): void {
    if (buffer.byteLength > this.maxBytes || this.spare.includes(buffer)) return;
    this.spare.push(buffer);
    if (this.spare.length > this.keep) this.spare.sort((a, b) => b.byteLength - a.byteLength).pop();
  }
}
