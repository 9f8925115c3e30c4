// Where int8 models live: <cacheDir>/onnx/int8/<weights hash>/<calibration key>.onnx.
// One folder per set of weights, so "any int8 model made for these weights" (--precision
// int8 without --calibrate, `models info`) is a directory listing.
import { readdir, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';

export function int8Dir(cacheDir: string, weightsHash: string): string {
  return path.join(cacheDir, 'onnx', 'int8', weightsHash.slice(0, 32));
}

/** The file for one calibration set, export outputs and quantizer settings. */
export function int8CachePath(cacheDir: string, weightsHash: string, parts: unknown): string {
  const key = createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
  return path.join(int8Dir(cacheDir, weightsHash), `${key}.onnx`);
}

/** Cached int8 models for these weights, newest first. */
export async function cachedInt8Models(cacheDir: string, weightsHash: string): Promise<string[]> {
  const dir = int8Dir(cacheDir, weightsHash);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.onnx'));
  } catch {
    return [];
  }
  const withTimes = await Promise.all(names.map(async (n) => ({ file: path.join(dir, n), mtime: (await stat(path.join(dir, n))).mtimeMs })));
  return withTimes.sort((a, b) => b.mtime - a.mtime || a.file.localeCompare(b.file)).map((x) => x.file);
}
