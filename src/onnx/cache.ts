// The on-disk .onnx cache: <cacheDir>/onnx/<cacheKey>.onnx, written atomically (temp
// file + rename) so a crash or a concurrent writer never leaves a half-written model.
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';

export function onnxCachePath(cacheDir: string, cacheKey: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(cacheKey) || cacheKey.startsWith('.')) {
    throw usageError(`ONNX cache key must be a file name ([A-Za-z0-9._-], not starting with '.'). Received: ${cacheKey}`);
  }
  return path.join(cacheDir, 'onnx', `${cacheKey}.onnx`);
}

export async function cachedFileExists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}

export async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
