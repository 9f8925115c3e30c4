// A folder of images as calibration (or evaluation) batches, preprocessed exactly as
// classify/extract feed the model, in sorted path order (so the same folder always gives
// the same ranges), plus a hash of the files and settings that keys the int8 cache.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { BackbonesError, errorMessage } from '../../errors.js';
import { loadImageForModel, type LoadImageOptions } from '../../images/index.js';
import { expandInputs } from '../../images/inputs.js';
import type { CalibrationBatch } from './calibrate.js';

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'bmp', 'avif'];

export type ImageFolderSettings = Omit<LoadImageOptions, 'cropPct' | 'keepExifOrientation' | 'limitInputPixels'>;

export interface ImageFolder {
  dir: string;
  files: string[];
  /** sha256 over every file's relative path and bytes, and the preprocessing settings. */
  hash: string;
}

/** Lists and hashes a folder; an empty, missing or unreadable one is a usage error. */
export async function openImageFolder(dir: string, flag: string, settings: ImageFolderSettings): Promise<ImageFolder> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (e) {
    throw new BackbonesError('E_USAGE', `${flag} ${dir}: cannot read the folder (${errorMessage(e)}).`);
  }
  if (!isDir) throw new BackbonesError('E_USAGE', `${flag} takes a folder of images; ${dir} is not a folder.`);
  const entries = await expandInputs([dir], { extensions: IMAGE_EXTENSIONS });
  const unreadable = entries.find((e) => e.error);
  if (unreadable) throw new BackbonesError('E_USAGE', `${flag} ${dir}: cannot read ${unreadable.path} (${unreadable.error}).`);
  const files = entries.map((e) => e.path);
  if (files.length === 0) throw new BackbonesError('E_USAGE', `${flag} ${dir} holds no images (${IMAGE_EXTENSIONS.join(', ')}).`);
  const h = createHash('sha256');
  h.update(JSON.stringify({ ...settings, size: settings.size }));
  for (const f of files) {
    h.update(`\n${path.relative(dir, f)}\n`);
    try {
      h.update(await readFile(f));
    } catch (e) {
      throw new BackbonesError('E_USAGE', `${flag} ${dir}: cannot read ${f} (${errorMessage(e)}).`);
    }
  }
  return { dir, files, hash: h.digest('hex') };
}

export interface DecodedFolder {
  batches: CalibrationBatch[];
  /** Files that did not decode, with why (skipped, not fatal). */
  failed: Array<{ path: string; error: string }>;
}

/** Decodes every image of the folder into batches of `batchSize` (failures are skipped). */
export async function decodeFolder(folder: ImageFolder, settings: ImageFolderSettings, batchSize: number, flag: string): Promise<DecodedFolder> {
  const [h, w] = settings.size;
  const per = h * w * 3;
  const inputs: Float32Array[] = [];
  const failed: DecodedFolder['failed'] = [];
  for (const file of folder.files) {
    try {
      inputs.push((await loadImageForModel(file, settings)).input);
    } catch (e) {
      failed.push({ path: file, error: errorMessage(e) });
    }
  }
  if (inputs.length === 0) {
    throw new BackbonesError('E_USAGE', folder.files.length === 1
      ? `${flag} ${folder.dir}: its one image could not be decoded (${failed[0]?.error}).`
      : `${flag} ${folder.dir}: none of its ${folder.files.length} images could be decoded (first: ${failed[0]?.error}).`);
  }
  const batches: CalibrationBatch[] = [];
  for (let i = 0; i < inputs.length; i += batchSize) {
    const chunk = inputs.slice(i, i + batchSize);
    const data = new Float32Array(chunk.length * per);
    chunk.forEach((x, j) => data.set(x, j * per));
    batches.push({ data, shape: [chunk.length, h, w, 3] });
  }
  return { batches, failed };
}
