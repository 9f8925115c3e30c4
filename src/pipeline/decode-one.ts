// One input entry -> its model input (or its error), the unit of work of every loader.
import v8 from 'node:v8';
import vm from 'node:vm';
import { ImageDecodeError, loadImageForModel, type ImageSettings } from '../images/index.js';
import { errorMessage } from '../errors.js';
import type { InputEntry } from '../images/inputs.js';

export type { ImageSettings };

export interface StageTimings {
  decodeMs: number;
  resizeMs: number;
  preprocessMs: number;
}

/** What a loader decodes: a file, or bytes already in memory (a request body; `path` labels it). */
export interface DecodeSource extends InputEntry {
  bytes?: Uint8Array;
}

export interface DecodedItem {
  path: string;
  input?: Float32Array;
  error?: string;
  /** The error is the image's own (undecodable, unsupported, too many pixels), not the machine's. */
  badImage?: boolean;
  timings?: StageTimings;
}

/**
 * Decoded pixels at least this big are collected right after the image is resized:
 * V8 would free such a buffer only at its next garbage collection, perhaps after the
 * next huge image is decoded, and the prefetch budget counts on it being gone.
 */
const COLLECT_AFTER_BYTES = 64 * 1024 * 1024;

let collect: (() => void) | null | undefined;
function garbageCollector(): (() => void) | null {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  return collect;
}

/** Never throws: a file that cannot be read or decoded becomes an item with `error`. */
export async function decodeOne(entry: DecodeSource, settings: ImageSettings): Promise<DecodedItem> {
  if (entry.error) return { path: entry.path, error: entry.error };
  let decodedBytes = 0;
  try {
    const { bytes } = entry;
    const img = await loadImageForModel(bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : entry.path, settings);
    decodedBytes = img.source.width * img.source.height * 3;
    return { path: entry.path, input: img.input, timings: img.timings };
  } catch (e) {
    return { path: entry.path, error: errorMessage(e), ...(e instanceof ImageDecodeError ? { badImage: true } : {}) };
  } finally {
    if (decodedBytes >= COLLECT_AFTER_BYTES) garbageCollector()?.();
  }
}
