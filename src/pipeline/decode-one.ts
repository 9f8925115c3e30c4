// One input entry -> its model input (or its error), the unit of work of every loader.
import { loadImageForModel, type LoadImageOptions } from '../images/index.js';
import { errorMessage } from '../errors.js';
import type { InputEntry } from './inputs.js';

export type ImageSettings = Omit<LoadImageOptions, 'cropPct' | 'keepExifOrientation'>;

export interface StageTimings {
  decodeMs: number;
  resizeMs: number;
  preprocessMs: number;
}

export interface DecodedItem {
  path: string;
  input?: Float32Array;
  error?: string;
  timings?: StageTimings;
}

/** Never throws: a file that cannot be read or decoded becomes an item with `error`. */
export async function decodeOne(entry: InputEntry, settings: ImageSettings): Promise<DecodedItem> {
  if (entry.error) return { path: entry.path, error: entry.error };
  try {
    const img = await loadImageForModel(entry.path, settings);
    return { path: entry.path, input: img.input, timings: img.timings };
  } catch (e) {
    return { path: entry.path, error: errorMessage(e) };
  }
}
