// Turns command-line inputs into an ordered list of image paths: files as given,
// directories walked recursively in sorted (code-point) order filtered by extension,
// and "-" for paths on stdin. Problems become entries with an error, never a crash.
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { lstatSync } from 'node:fs';
import { BackbonesError, errorMessage } from '../errors.js';

export interface InputEntry {
  path: string;
  /** Set when the entry cannot be read (unreadable directory, symlink loop, missing stdin path). */
  error?: string;
}

export function parseExtensions(list: string): string[] {
  const exts = list
    .split(',')
    .map((e) => e.trim().toLowerCase().replace(/^\./, ''))
    .filter((e) => e.length > 0);
  if (exts.length === 0) throw new BackbonesError('E_USAGE', `--ext needs at least one extension. Received: "${list}"`);
  return exts;
}

/** True when `file`'s extension is one of `extensions` (lower case, no dot; the file's case is ignored). */
export function hasExtension(file: string, extensions: readonly string[]): boolean {
  return extensions.includes(path.extname(file).slice(1).toLowerCase());
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function walk(dir: string, extensions: readonly string[], seen: Set<string>, out: InputEntry[]): Promise<void> {
  let real: string;
  try {
    real = await realpath(dir);
  } catch (e) {
    out.push({ path: dir, error: `cannot resolve directory: ${errorMessage(e)}` });
    return;
  }
  if (seen.has(real)) {
    out.push({ path: dir, error: 'symlink loop: this directory was already visited' });
    return;
  }
  seen.add(real);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    out.push({ path: dir, error: `cannot read directory: ${errorMessage(e)}` });
    return;
  }
  for (const name of names.sort(byCodePoint)) {
    const full = path.join(dir, name);
    let s;
    try {
      s = await stat(full); // follows symlinks
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ELOOP') out.push({ path: full, error: 'symlink loop' });
      else if (hasExtension(full, extensions)) out.push({ path: full, error: `cannot read: ${errorMessage(e)}` });
      continue;
    }
    if (s.isDirectory()) await walk(full, extensions, seen, out);
    else if (s.isFile() && hasExtension(full, extensions)) out.push({ path: full });
  }
}

/** Whether a path names an entry (even a broken or looping symlink, even one we may not read). */
function entryExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}

function unreadable(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ELOOP') return 'symlink loop';
  if (code === 'ENOENT') return 'broken symlink: its target does not exist';
  return `cannot read: ${errorMessage(e)}`;
}

async function readStdinLines(stdin: NodeJS.ReadableStream): Promise<string[]> {
  let text = '';
  for await (const chunk of stdin) text += chunk.toString();
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/**
 * Expands inputs in order. A named path that does not exist is a usage error (nothing
 * has run yet, so nothing is lost); a path read from stdin that does not exist
 * becomes an entry with an error, so `find … | backbones …` never stops half way.
 */
/**
 * Why expandInputs found nothing, as the start of a sentence: stdin gave no path, or the
 * folders held no file with these extensions (only folders are filtered by --ext).
 */
export function noImagesIn(inputs: readonly string[], extensions: readonly string[]): string {
  const folders = inputs.filter((i) => i !== '-');
  const stdin = folders.length < inputs.length ? 'no image path on stdin' : '';
  if (folders.length === 0) return `No images to process: ${stdin}`;
  return `No images to process in ${folders.join(', ')} (looked for ${extensions.map((e) => `.${e}`).join(', ')}; --ext changes that)${stdin ? `, and ${stdin}` : ''}`;
}

export async function expandInputs(
  inputs: string[],
  options: { extensions: readonly string[]; stdin?: NodeJS.ReadableStream },
): Promise<InputEntry[]> {
  // Missing means no entry at all: a symlink loop, a broken link or an unreadable entry
  // named here becomes an error record, as it does inside a folder.
  const missing = inputs.filter((i) => i !== '-' && !entryExists(i));
  if (missing.length > 0) {
    throw new BackbonesError('E_NOT_FOUND', `Input not found: ${missing.join(', ')}`);
  }
  if (inputs.filter((i) => i === '-').length > 1) throw new BackbonesError('E_USAGE', '"-" (paths on stdin) can be given only once.');
  const out: InputEntry[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    if (input === '-') {
      for (const line of await readStdinLines(options.stdin ?? process.stdin)) {
        let s;
        try {
          s = await stat(line);
        } catch (e) {
          out.push({ path: line, error: (e as { code?: string }).code === 'ENOENT' ? 'file not found' : `cannot read: ${errorMessage(e)}` });
          continue;
        }
        if (s.isDirectory()) await walk(line, options.extensions, seen, out);
        else out.push({ path: line });
      }
      continue;
    }
    let s;
    try {
      s = await stat(input); // follows symlinks
    } catch (e) {
      out.push({ path: input, error: unreadable(e) });
      continue;
    }
    if (s.isDirectory()) await walk(input, options.extensions, seen, out);
    else out.push({ path: input });
  }
  return out;
}
