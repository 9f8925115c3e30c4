// The progress bar of classify/extract on an interactive stderr. Anything printed
// while it runs (a failed file, a table row on the same terminal) goes through
// interrupt(), which clears the bar's line first and redraws the bar after, so bar
// and text never share a line and no frozen copies of the bar are left behind.
// The ETA is remaining × average time per image so far: cli-progress' own ETA looks
// at the last few updates only, which all land within one batch, and runs far short.
import { clearLine, cursorTo } from 'node:readline';
import { performance } from 'node:perf_hooks';
import cliProgress from 'cli-progress';
import { setStderrInterrupter } from '../log.js';

/** "42s", "3m05s", "1h02m". */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Seconds left when `done` of `total` took `elapsedS` (unknown before the first item). */
export function etaSeconds(done: number, total: number, elapsedS: number): number {
  return done > 0 ? ((total - done) * elapsedS) / done : NaN;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export class RunProgress {
  private readonly bar: cliProgress.SingleBar | undefined;
  private readonly started = performance.now();
  private done = 0;
  private stopped = false;

  constructor(
    private readonly total: number,
    enabled: boolean,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    /** Appended after the rate, e.g. " | limited by decode" (--verbose). */
    private readonly detail: () => string = () => '',
  ) {
    this.bar = enabled
      ? new cliProgress.SingleBar(
          {
            stream,
            format: ' {bar} {value}/{total} images | {rate} img/s{detail} | ETA {remaining}',
            hideCursor: true,
            barsize: 30,
            clearOnComplete: true,
            forceRedraw: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    this.bar?.start(total, 0, this.payload());
    // Warnings and errors logged while the bar shows are printed above it.
    if (this.bar) setStderrInterrupter((print) => this.interrupt(print));
    // Ctrl-C: give the terminal its cursor and line wrapping back, then die of the signal as usual.
    if (this.bar) for (const signal of SIGNALS) process.once(signal, this.onSignal);
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.stop();
    process.kill(process.pid, signal);
  };

  private elapsedS(): number {
    return (performance.now() - this.started) / 1000;
  }

  private payload(): { rate: string; detail: string; remaining: string } {
    const t = this.elapsedS();
    return { rate: (this.done / Math.max(t, 1e-3)).toFixed(1), detail: this.detail(), remaining: this.done > 0 ? formatEta(etaSeconds(this.done, this.total, t)) : '…' };
  }

  /** Whether a bar is drawn (a terminal, progress not turned off). */
  get visible(): boolean {
    return this.bar !== undefined;
  }

  /** "12/40 images, 8.1 img/s": for logs where no bar is drawn. */
  line(): string {
    return `${this.done}/${this.total} images, ${this.payload().rate} img/s`;
  }

  tick(): void {
    this.done += 1;
    this.bar?.update(this.done, this.payload());
  }

  /** Runs `print` (which writes whole lines to the terminal) with the bar cleared, then redraws the bar. */
  interrupt(print: () => void): void {
    if (!this.bar || this.stopped) return print();
    cursorTo(this.stream, 0);
    clearLine(this.stream, 0);
    // cli-progress turns line wrapping off while the bar shows (ESC[?7l); long lines printed here must wrap.
    this.stream.write('\x1b[?7h');
    print();
    this.stream.write('\x1b[?7l');
    this.bar.render();
  }

  /** Removes the bar, leaving the cursor at the start of a clean line. */
  stop(): void {
    if (!this.bar) return;
    if (this.stopped) return;
    this.stopped = true;
    setStderrInterrupter(null);
    for (const signal of SIGNALS) process.off(signal, this.onSignal);
    // cli-progress restores the cursor it saved at start() (ESC 7 … ESC 8), which is
    // rows above the bar once text was printed: save it here, on the bar's own line.
    this.stream.write('\x1b7');
    this.bar.stop();
  }
}
