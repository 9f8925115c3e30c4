// Dynamic batching (Triton's and TF Serving's knobs): items wait in lanes, one lane
// per kind of computation; one batch runs at a time (one inference thread, no locks needed in
// an event loop). A lane runs when it holds maxBatch items or its oldest item has
// waited maxDelayMs. Items whose request gave up (timeout) are dropped before a batch
// forms, so they never cost an inference.
export interface BatcherOptions {
  maxBatch: number;
  maxDelayMs: number;
}

export interface BatchObserver {
  /** Images waiting for a batch changed. */
  queueDepth?(depth: number): void;
  /** One batch finished (or failed) after `ms` milliseconds. */
  batch?(size: number, ms: number): void;
}

/** Runs one batch of one lane; returns one result per item, in order (an Error fails its item alone). */
export type RunBatch<T, R> = (lane: string, items: T[]) => Promise<(R | Error)[]>;

interface Waiting<T, R> {
  item: T;
  enqueuedAt: number;
  cancelled: boolean;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export interface Submitted<R> {
  result: Promise<R>;
  /** The request gave up: drop the item if it has not reached a batch yet. */
  cancel(): void;
}

export class Batcher<T, R> {
  private readonly lanes = new Map<string, Waiting<T, R>[]>();
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private waiting = 0;
  /** Shutting down: every waiting item is due now. */
  private draining = false;

  constructor(
    private readonly run: RunBatch<T, R>,
    private readonly options: BatcherOptions,
    private readonly observer: BatchObserver = {},
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Items waiting for a batch (not those in the running batch). */
  get depth(): number {
    return this.waiting;
  }

  /** Whether nothing waits and nothing runs. */
  get idle(): boolean {
    return this.waiting === 0 && this.running === null;
  }

  submit(lane: string, item: T): Submitted<R> {
    let entry!: Waiting<T, R>;
    const result = new Promise<R>((resolve, reject) => {
      entry = { item, enqueuedAt: this.now(), cancelled: false, resolve, reject };
    });
    const queue = this.lanes.get(lane) ?? [];
    queue.push(entry);
    this.lanes.set(lane, queue);
    this.setWaiting(this.waiting + 1);
    this.schedule();
    return {
      result,
      cancel: () => {
        if (entry.cancelled) return;
        const q = this.lanes.get(lane);
        const at = q ? q.indexOf(entry) : -1;
        entry.cancelled = true;
        if (at >= 0) {
          q!.splice(at, 1);
          if (q!.length === 0) this.lanes.delete(lane);
          this.setWaiting(this.waiting - 1);
          this.schedule(); // re-arms (or drops) the timer for the new oldest item
        }
      },
    };
  }

  private setWaiting(n: number): void {
    this.waiting = n;
    this.observer.queueDepth?.(n);
  }

  /** Starts a batch if one is due, else arms a timer for the oldest item's deadline. */
  private schedule(): void {
    if (this.running) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const now = this.now();
    let due: string | null = null;
    let oldestLane: string | null = null;
    let oldest = Infinity;
    for (const [lane, queue] of this.lanes) {
      if (queue.length === 0) continue;
      if (queue.length >= this.options.maxBatch) {
        due = lane;
        break;
      }
      if (queue[0]!.enqueuedAt < oldest) {
        oldest = queue[0]!.enqueuedAt;
        oldestLane = lane;
      }
    }
    if (!due && oldestLane !== null && (this.draining || now - oldest >= this.options.maxDelayMs)) due = oldestLane;
    if (due) {
      this.running = this.runLane(due).finally(() => {
        this.running = null;
        this.schedule();
      });
      return;
    }
    if (oldestLane !== null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, Math.max(0, this.options.maxDelayMs - (now - oldest)));
      // Waiting items never keep a process alive on their own (the server's socket does).
      this.timer.unref();
    }
  }

  private async runLane(lane: string): Promise<void> {
    const queue = this.lanes.get(lane)!;
    const batch = queue.splice(0, this.options.maxBatch);
    if (queue.length === 0) this.lanes.delete(lane);
    this.setWaiting(this.waiting - batch.length);
    const t0 = this.now();
    try {
      const results = await this.run(lane, batch.map((w) => w.item));
      batch.forEach((w, i) => {
        const r = results[i]!;
        if (r instanceof Error) w.reject(r);
        else w.resolve(r);
      });
    } catch (e) {
      for (const w of batch) w.reject(e);
    } finally {
      this.observer.batch?.(batch.length, this.now() - t0);
    }
  }

  /** Runs everything waiting without further delay; resolves once nothing waits and nothing runs. */
  async drain(): Promise<void> {
    this.draining = true;
    this.schedule();
    while (!this.idle) {
      if (this.running) await this.running.catch(() => undefined);
      else await new Promise((r) => setTimeout(r, 5));
    }
  }
}
