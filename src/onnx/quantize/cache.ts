// Where int8 models live: <cacheDir>/onnx/int8/<weights hash>/<calibration key>.onnx.
// One folder per set of weights, so "any int8 model made for these weights" (--precision
// int8 without --calibrate, `models info`) is a directory listing.
import { readdir, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Int8Cpu } from './cpu.js';
import type { WeightScheme } from './encoding.js';

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

/** Whether no int8 model of any weights is cached: a run that needs a cached one cannot start. */
export async function int8CacheIsEmpty(cacheDir: string): Promise<boolean> {
  const root = path.join(cacheDir, 'onnx', 'int8');
  let dirs: string[];
  try {
    dirs = await readdir(root);
  } catch {
    return true;
  }
  for (const d of dirs) {
    const names = await readdir(path.join(root, d)).catch(() => [] as string[]);
    if (names.some((n) => n.endsWith('.onnx'))) return false;
  }
  return true;
}

/** What `models info` shows about a cached int8 model, kept next to it as <file>.json. */
export interface Int8Sidecar {
  /** Zoo name or model path, as given. */
  model: string;
  weights: string;
  calibration: { dir: string; images: number; hash: string };
  outputs: string[];
  summary: unknown;
  integerKernels?: number;
  evaluation?: unknown;
  /** The weights' encoding and the CPU it was chosen for (absent for models cached before it was recorded). */
  encoding?: { scheme?: WeightScheme; madeFor?: Int8Cpu };
  createdAt: string;
}

export async function writeSidecar(modelFile: string, sidecar: Int8Sidecar): Promise<void> {
  const { writeAtomically } = await import('../cache.js');
  await writeAtomically(`${modelFile}.json`, new TextEncoder().encode(JSON.stringify(sidecar, null, 2) + '\n'));
}

/** Sidecars of every cached int8 model made for `model` (any weights), newest first. */
export async function int8ModelsFor(cacheDir: string, model: string): Promise<Array<Int8Sidecar & { file: string }>> {
  const { readFile } = await import('node:fs/promises');
  const root = path.join(cacheDir, 'onnx', 'int8');
  let dirs: string[];
  try {
    dirs = await readdir(root);
  } catch {
    return [];
  }
  const found: Array<Int8Sidecar & { file: string }> = [];
  for (const d of dirs.sort()) {
    let names: string[];
    try {
      names = (await readdir(path.join(root, d))).filter((n) => n.endsWith('.onnx.json'));
    } catch {
      continue;
    }
    for (const n of names.sort()) {
      try {
        const s = JSON.parse(await readFile(path.join(root, d, n), 'utf8')) as Int8Sidecar;
        if (s.model === model) found.push({ ...s, file: path.join(root, d, n.slice(0, -'.json'.length)) });
      } catch {
        // A damaged sidecar hides one entry, nothing more.
      }
    }
  }
  return found.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
