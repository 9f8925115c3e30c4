// Output files are written beside their final name as `<file>.partial` and renamed
// over it only when the run has finished, so a killed run never leaves a half-written
// file under the final name, nor destroys the good file an earlier run left there.
// `--resume` continues from the partial file of a killed run (or a copy of the final one).
import { accessSync, closeSync, constants, copyFileSync, existsSync, fsyncSync, lstatSync, openSync, readlinkSync, renameSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BackbonesError } from '../errors.js';
import { fileSink, type Sink } from './sink.js';

export const PARTIAL_SUFFIX = '.partial';

export function partialPath(file: string): string {
  return file + PARTIAL_SUFFIX;
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not every platform can fsync a directory; the rename is still atomic
  }
}

/** Checks, before any work, that `file` can be written: its folder exists and is writable, and it is not a folder. */
export function checkOutputFile(file: string, flag = '-o'): void {
  const dir = path.dirname(path.resolve(file));
  if (existsSync(file) && statSync(file).isDirectory()) throw new BackbonesError('E_USAGE', `${flag} ${file} is a folder; give a file name.`);
  if (!existsSync(dir)) throw new BackbonesError('E_USAGE', `${flag} ${file}: the folder ${dir} does not exist; create it first.`);
  if (!statSync(dir).isDirectory()) throw new BackbonesError('E_USAGE', `${flag} ${file}: ${dir} is not a folder.`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new BackbonesError('E_USAGE', `${flag} ${file}: the folder ${dir} is not writable.`);
  }
}

/**
 * Where an output named `file` really goes. A device, FIFO or terminal (`-o /dev/stdout`
 * on a pipe) is written in place (`special`): nothing can be renamed over it. A symlink
 * is followed, also when it dangles (its target does not exist yet), so the rename at the
 * end writes the file it points to and the link stays.
 */
export function outputTarget(file: string): { path: string; special: boolean } {
  const resolved = followLinks(file);
  if (!existsSync(resolved)) return { path: resolved, special: false };
  const st = statSync(resolved);
  return { path: resolved, special: !st.isFile() && !st.isDirectory() };
}

/** The path a chain of symlinks ends at (the path itself when it is none); a loop is left as it is. */
function followLinks(file: string): string {
  let current = file;
  for (let hops = 0; hops < 40; hops++) {
    let isLink = false;
    try {
      isLink = lstatSync(current).isSymbolicLink();
    } catch {
      return current; // nothing there: written as named
    }
    if (!isLink) return current;
    current = path.resolve(path.dirname(current), readlinkSync(current));
  }
  return file;
}

/** Writes a whole file atomically: a temporary file in the same folder, then a rename. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data, { flush: true });
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean
    }
    throw e;
  }
  fsyncDir(path.dirname(file));
}

/**
 * The files one output consists of (the main file and its sidecars), staged as
 * `.partial` files. `owned` lists every final name the output may have: on commit,
 * those this run did not produce are removed (an earlier run's errors sidecar).
 */
export class StagedFiles {
  private readonly sinks = new Map<string, Sink>();

  constructor(private readonly owned: readonly string[]) {}

  /** A sink writing to `<file>.partial`, from scratch or appended to what it holds. */
  open(file: string, options: { append?: boolean } = {}): Sink {
    const sink = fileSink(partialPath(file), options);
    this.sinks.set(file, sink);
    return sink;
  }

  /** Closes every file and renames each partial over its final name; removes owned files not produced. */
  async commit(): Promise<void> {
    await Promise.all([...this.sinks.values()].map((s) => s.close()));
    // Sidecars first, the main file (owned[0]) last: its appearance marks the output complete.
    const files = [...this.sinks.keys()].sort((a, b) => Number(a === this.owned[0]) - Number(b === this.owned[0]));
    for (const file of this.owned) {
      if (!this.sinks.has(file) && existsSync(file)) unlinkSync(file);
    }
    for (const file of files) renameSync(partialPath(file), file);
    if (files.length > 0) fsyncDir(path.dirname(files[0]!));
  }

  /** Closes every file and leaves the partial files where they are (for --resume). */
  async abandon(): Promise<void> {
    await Promise.all([...this.sinks.values()].map((s) => s.close()));
  }
}

/**
 * Makes `<file>.partial` hold the first `keepBytes` bytes of `source` (the final
 * file or the partial one itself), ready to append to. The final file is never modified.
 */
export function stageForAppend(file: string, source: string, keepBytes: number): void {
  const partial = partialPath(file);
  if (source !== partial) copyFileSync(source, partial);
  truncateSync(partial, keepBytes);
}

/** Where --resume reads from: the partial file a killed run left, else the finished file, else nothing. */
export function resumeSource(file: string): string | null {
  const partial = partialPath(file);
  if (existsSync(partial)) return partial;
  return existsSync(file) ? file : null;
}
