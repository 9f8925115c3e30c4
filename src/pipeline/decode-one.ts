// One input entry -> its model input (or its error), the unit of work of every loader.
import v8 from 'node:v8';
import vm from 'node:vm';
import { ImageDecodeError, loadImageForModel, readCounts, type ImageSettings, type SourceInfo } from '../images/index.js';
import { errorMessage } from '../errors.js';
import { threadCpuClock } from '../monitor/threads.js';
import type { InputEntry } from '../images/inputs.js';

export type { ImageSettings };

export interface StageTimings {
  decodeMs: number;
  resizeMs: number;
  preprocessMs: number;
  /** CPU time of resize + preprocess in the decoding thread (Linux), ms. */
  preprocessCpuMs?: number;
}

/** What a loader decodes: a file, or bytes already in memory (a request body; `path` labels it). */
export interface DecodeSource extends InputEntry {
  bytes?: Uint8Array;
  /**
   * The caller gives `bytes` up: when they span their whole ArrayBuffer, the decode pool
   * moves that buffer to its thread instead of copying it (the caller's view is left empty).
   */
  handOver?: boolean;
  /** The header the prefetch budget already read: the decoder does not read it again. */
  header?: SourceInfo;
}

export interface DecodedItem {
  path: string;
  input?: Float32Array;
  error?: string;
  /** The error is the image's own (undecodable, unsupported, too many pixels), not the machine's. */
  badImage?: boolean;
  timings?: StageTimings;
  /** Headers read and pixels decoded in this thread while this item was decoded (exactly its own when it was the only one in flight). */
  reads?: { headers: number; decodes: number };
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

const cpuClock = threadCpuClock() ?? undefined;

/** Never throws: a file that cannot be read or decoded becomes an item with `error`. */
export async function decodeOne(entry: DecodeSource, settings: ImageSettings): Promise<DecodedItem> {
  if (entry.error) return { path: entry.path, error: entry.error };
  let decodedBytes = 0;
  const before = { ...readCounts };
  try {
    const { bytes } = entry;
    const img = await loadImageForModel(bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : entry.path, { ...settings, source: entry.header, cpuClock });
    decodedBytes = img.source.width * img.source.height * 3;
    const reads = { headers: readCounts.headers - before.headers, decodes: readCounts.decodes - before.decodes };
    const { decodeMs, resizeMs, preprocessMs, preprocessCpuMs } = img.timings;
    return { path: entry.path, input: img.input, timings: { decodeMs, resizeMs, preprocessMs, ...(preprocessCpuMs !== undefined ? { preprocessCpuMs } : {}) }, reads };
  } catch (e) {
    return { path: entry.path, error: errorMessage(e), ...(e instanceof ImageDecodeError ? { badImage: true } : {}) };
  } finally {
    if (decodedBytes >= COLLECT_AFTER_BYTES) garbageCollector()?.();
  }
}
