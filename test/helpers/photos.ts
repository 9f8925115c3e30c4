// The int8 tests' split of the real photos (the truncated JPEG left out): even positions
// in sorted order calibrate, odd ones evaluate (13 each). Linked, not copied.
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DATA_DIR, IMAGES } from './data.js';

export function splitPhotos(): { calib: string; evaluate: string; root: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'bb-int8-'));
  const calib = path.join(root, 'calib');
  const evaluate = path.join(root, 'eval');
  mkdirSync(calib);
  mkdirSync(evaluate);
  const photos = readdirSync(path.join(DATA_DIR, 'images')).filter((f) => !f.startsWith('truncated')).sort();
  photos.forEach((f, i) => symlinkSync(IMAGES(f), path.join(i % 2 === 0 ? calib : evaluate, f)));
  return { calib, evaluate, root };
}
