// Where output bytes go: stdout, or a file written with synchronous whole writes so
// that a run killed at any point leaves only complete lines behind (for --resume).
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

export interface Sink {
  /** A path, or '-' for stdout. */
  readonly target: string;
  write(chunk: string | Uint8Array): void;
  /** Overwrite bytes at a position (files only; npy headers). */
  writeAt?(chunk: Uint8Array, position: number): void;
  close(): Promise<void>;
}

export function stdoutSink(): Sink {
  return {
    target: '-',
    write: (chunk) => {
      process.stdout.write(chunk);
    },
    close: () =>
      new Promise((resolve) => {
        // Resolve once everything queued so far has been handed to the OS.
        if (process.stdout.writableLength === 0) resolve();
        else process.stdout.once('drain', () => resolve());
      }),
  };
}

export function fileSink(file: string, options: { append?: boolean } = {}): Sink {
  const fd = openSync(file, options.append ? 'a' : 'w');
  return {
    target: file,
    write: (chunk) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    },
    writeAt: (chunk, position) => {
      writeSync(fd, chunk, 0, chunk.length, position);
    },
    close: async () => {
      fsyncSync(fd);
      closeSync(fd);
    },
  };
}
