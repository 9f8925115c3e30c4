// A temporary weights cache holding the real MobileNet v1 0.25 from the shared data,
// laid out as `backbones models pull mobilenet_0.25` leaves it (a link, not a copy).
import { mkdtempSync, mkdirSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MODELS } from './data.js';

export function cacheWithMobilenet025(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-cache-'));
  mkdirSync(path.join(dir, 'mobilenet_0.25'));
  symlinkSync(MODELS('mobilenet_v1_0.25_224'), path.join(dir, 'mobilenet_0.25', 'model'));
  return dir;
}

export function emptyCache(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'bb-empty-cache-'));
}

export function parseJsonl(text: string): Record<string, any>[] {
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l));
}
