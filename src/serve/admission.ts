// Backpressure: a bounded number of images in flight (admitted and not answered),
// refused at once with 503 beyond it, and a per-request deadline (504) that also
// takes the request's images out of the queue.
import { HttpError, unavailable } from './http-error.js';

export class Admission {
  private admitted = 0;
  private stopped = false;

  constructor(
    readonly maxQueue: number,
    private readonly onChange: (inFlight: number) => void = () => {},
    private readonly onReject: () => void = () => {},
  ) {}

  get inFlight(): number {
    return this.admitted;
  }

  get full(): boolean {
    return this.admitted >= this.maxQueue;
  }

  /** Shutting down: from now on every request is refused with 503 (those admitted still finish). */
  stop(): void {
    this.stopped = true;
  }

  /** Throws the 503 a request would get now (shutting down, or no room for one more image). */
  check(): void {
    if (this.stopped) throw shuttingDown();
    if (this.full) this.admit(1); // throws the 503 (and counts the rejection)
  }

  /** Admits n images or throws 503 (413 when n alone exceeds the queue); returns the release. */
  admit(n: number): () => void {
    if (this.stopped) throw shuttingDown();
    if (n > this.maxQueue) throw new HttpError(413, `The request holds ${n} images; this server takes at most ${this.maxQueue} at a time (--max-queue).`);
    if (this.admitted + n > this.maxQueue) {
      this.onReject();
      throw overloaded(this.maxQueue);
    }
    this.admitted += n;
    this.onChange(this.admitted);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.admitted -= n;
      this.onChange(this.admitted);
    };
  }
}

export function shuttingDown(): HttpError {
  return unavailable('The server is shutting down; retry shortly (or on another instance).', 1);
}

export function overloaded(maxQueue: number): HttpError {
  return unavailable(`The server is at capacity (${maxQueue} images queued, --max-queue); retry shortly.`, 1);
}

/** One request's deadline: races work against it, and runs cleanups when it passes. */
export class Deadline {
  private timer: NodeJS.Timeout | null;
  private readonly expired: Promise<never>;
  private readonly onExpire: (() => void)[] = [];

  private readonly fail: (e: unknown) => void;

  constructor(ms: number, timeoutMs: number) {
    let fail!: (e: unknown) => void;
    this.expired = new Promise<never>((_, reject) => (fail = reject));
    this.expired.catch(() => undefined);
    this.fail = fail;
    this.timer = setTimeout(() => this.end(new HttpError(504, `The request did not finish within ${timeoutMs} ms (--timeout-ms); the server is busy, retry later.`)), Math.max(0, ms));
  }

  /** The client hung up: its images leave the queue now instead of costing an inference. */
  abandon(): void {
    if (this.timer) this.end(new HttpError(499, 'The client closed the connection before the answer.'));
  }

  private end(error: HttpError): void {
    this.clear();
    for (const f of this.onExpire) f();
    this.fail(error);
  }

  race<T>(work: Promise<T>, onExpire?: () => void): Promise<T> {
    if (onExpire) this.onExpire.push(onExpire);
    return Promise.race([work, this.expired]);
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
