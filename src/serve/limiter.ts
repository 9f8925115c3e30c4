// At most n tasks at once, the rest in arrival order. Bounds concurrent decodes: with
// hundreds of requests in flight, decoding them all at once only multiplies memory
// (full-size pixels) and makes every request finish late instead of the first ones early.
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}
