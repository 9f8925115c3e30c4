// Where output bytes go: stdout, or a file written with synchronous whole writes so
// that a run killed at any point leaves only complete lines behind (for --resume).
import { closeSync, fstatSync, fsyncSync, openSync, writeSync } from 'node:fs';

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

/**
 * A file written at explicit positions: appending opens it read-write at its end
 * (not O_APPEND, under which Linux ignores the position of writeAt).
 */
export function fileSink(file: string, options: { append?: boolean } = {}): Sink {
  const fd = openSync(file, options.append ? 'r+' : 'w');
  // Appending writes at explicit positions; otherwise the file offset advances (pipes and devices have none).
  let position: number | null = options.append ? fstatSync(fd).size : null;
  let open = true;
  return {
    target: file,
    write: (chunk) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position === null ? null : position + off);
      if (position !== null) position += buf.length;
    },
    writeAt: (chunk, at) => {
      writeSync(fd, chunk, 0, chunk.length, at);
    },
    close: async () => {
      if (!open) return;
      open = false;
      try {
        fsyncSync(fd);
      } catch {
        // pipes and terminals cannot be synced
      }
      closeSync(fd);
    },
  };
}
