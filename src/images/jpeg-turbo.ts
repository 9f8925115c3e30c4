// The optional libjpeg-turbo decoder (native/jpeg.c, built by `npm run build` when the
// system has libjpeg-turbo's headers). Why it exists: sharp returns every decode in a fresh
// buffer, and faulting in a 12-megapixel photo's 36 MB of new pages cost more CPU than the
// decode itself; here each thread decodes into a buffer it keeps (bench/RESULTS.md §15).
// Its pixels are bit-identical to sharp's for the JPEGs it takes (both are libjpeg-turbo's
// islow IDCT with fancy upsampling, as in Pillow); everything else stays with sharp.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { KeptBuffers } from '../buffers.js';

type Result = { width: number; height: number; buffer: ArrayBuffer } | { warning: string } | { error: string };

interface Addon {
  decodeSync(bytes: Uint8Array, denom: number, out: ArrayBuffer | null, orientation?: number): Result;
  decodeAsync(bytes: Uint8Array, denom: number, out: ArrayBuffer | null, orientation?: number): Promise<Result>;
  /** Whether decode* take an EXIF orientation to lay the pixels out by (older builds: no). */
  orients?: boolean;
  turboVersion?: number;
  tuneMalloc(arenaMax: number, mmapThreshold: number, trimThreshold: number): boolean;
  trim(): boolean;
  /** Built with Little CMS only (native/build.mjs). */
  iccSrgbError?(profile: Uint8Array): number;
}

/** `BACKBONES_JPEG_DECODER=sharp` turns the addon off (to compare, or to rule it out). */
export const JPEG_DECODER_ENV = 'BACKBONES_JPEG_DECODER';

let addon: Addon | null | undefined;
let loadError: string | null = null;

function load(): Addon | null {
  const a = loadAddon();
  return a && process.env[JPEG_DECODER_ENV] !== 'sharp' ? a : null;
}

/** The addon itself (also for the allocator settings, which do not depend on the JPEG decoder being wanted). */
export function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env[JPEG_DECODER_ENV] === 'sharp') loadError = `${JPEG_DECODER_ENV}=sharp`;
  // native/build/jpeg.node from dist/images/ and from src/images/ alike.
  const file = fileURLToPath(new URL('../../native/build/jpeg.node', import.meta.url));
  if (!existsSync(file)) {
    loadError = 'not built (npm run build needs libjpeg-turbo headers, e.g. Debian libjpeg62-turbo-dev)';
    return addon;
  }
  try {
    addon = createRequire(import.meta.url)(file) as Addon;
  } catch (e) {
    loadError = `failed to load: ${(e as Error).message.split('\n')[0]}`;
  }
  return addon;
}

/** Which decoder JPEGs get, for logs and doctor: 'libjpeg-turbo 2.1.5', or 'sharp (why)'. */
export function jpegDecoder(): { native: boolean; label: string } {
  const a = load();
  if (!a) return { native: false, label: `sharp (libjpeg-turbo decoder ${loadError})` };
  const v = a.turboVersion;
  return { native: true, label: v ? `libjpeg-turbo ${Math.floor(v / 1e6)}.${Math.floor(v / 1e3) % 1000}.${v % 1000}` : 'libjpeg' };
}

/**
 * Whether the addon decodes this file: a still 8-bit JPEG in YCbCr/RGB or grey. With
 * `viewer` (decodeImage) also no ICC profile to convert from (none, or one that is sRGB:
 * iccIsSrgb), which only sharp does; an EXIF orientation the addon applies itself, as it
 * decodes (a build without that leaves rotated photos to sharp). PIL-style decoding
 * ignores both.
 */
export function jpegTurboTakes(
  // The fields of decode.ts's SourceInfo it looks at (spelled out: decode.ts imports this file).
  source: { format: string; pages: number; space: string; depth: string; hasIccProfile: boolean; iccIsSrgb?: boolean; orientation: number | null },
  viewer: { autoOrient: boolean } | null,
): boolean {
  if (!load()) return false;
  if (source.format !== 'jpeg' || source.pages > 1 || source.depth !== 'uchar') return false;
  if (source.space !== 'srgb' && source.space !== 'b-w') return false;
  if (viewer && ((source.hasIccProfile && !source.iccIsSrgb) || (viewer.autoOrient && (source.orientation ?? 1) !== 1 && !addon?.orients))) return false;
  return true;
}

/**
 * The most converting from a profile to sRGB may move an 8-bit colour (exactly, in levels)
 * for the profile to count as sRGB, so that its pixels are used as they are. "sRGB" profiles
 * as cameras and editors embed them differ from the standard by rounding (the real photos':
 * 0.10 and 1.41 levels, the latter in saturated greens), Adobe RGB and Display P3 by
 * hundreds; for the 1.41 one libvips' own 8-bit conversion moves 0.5 % of all colours by
 * 1-2 levels, i.e. is no closer to exact than not converting (bench/RESULTS.md §15.7).
 */
export const SRGB_PROFILE_TOLERANCE = 1.5;

const srgbVerdicts = new Map<string, boolean>();
const SRGB_VERDICTS_KEPT = 64;

/**
 * Whether converting pixels from this ICC profile to sRGB would leave them as they are
 * (within SRGB_PROFILE_TOLERANCE levels), by Little CMS' exact conversion of a grid of
 * colours; false when the addon was built without Little CMS. Each distinct profile is
 * judged once per thread (about 5 ms).
 */
export function iccIsSrgb(profile: Uint8Array): boolean {
  if (!loadAddon()?.iccSrgbError) return false;
  const id = createHash('sha1').update(profile).digest('base64');
  let verdict = srgbVerdicts.get(id);
  if (verdict === undefined) {
    const error = iccSrgbError(profile)!;
    verdict = error >= 0 && error <= SRGB_PROFILE_TOLERANCE; // NaN: not sRGB
    if (srgbVerdicts.size >= SRGB_VERDICTS_KEPT) srgbVerdicts.delete(srgbVerdicts.keys().next().value!);
    srgbVerdicts.set(id, verdict);
  }
  return verdict;
}

/** The addon's measure behind iccIsSrgb (for tests and bench/icc-srgb.ts), or null without Little CMS. */
export function iccSrgbError(profile: Uint8Array): number | null {
  const judge = loadAddon()?.iccSrgbError;
  return judge ? judge(profile) : null;
}

// Buffers a thread keeps between decodes: one in use per decode in flight, so two cover a
// decode thread (one decode at a time) and the main thread's usual case; none over 64 MB
// (a huge photo should not pin its pixels after it is gone).
const kept = new KeptBuffers(2, 64 * 1024 * 1024);

export interface TurboPixels {
  data: Uint8Array;
  width: number;
  height: number;
  /** Hands the buffer back for the next decode of this thread; `data` must not be used after. */
  release: () => void;
}

/**
 * Decodes at 1/denom scale (DCT scaling) to RGB, laid out as EXIF `orientation` says (1: as
 * stored; width and height are then the displayed ones). Returns null when libjpeg warned or failed
 * (damaged data) or the colour space is not one it converts: sharp then decides, under its
 * failOn rules and with its messages, so a damaged file behaves exactly as before. Off the
 * main thread (a decode thread) it decodes synchronously, so its CPU time is the thread's own; in the main
 * thread on libuv's threads, so the event loop stays free.
 */
export async function decodeJpegTurbo(bytes: Uint8Array, denom: 1 | 2 | 4 | 8, expectBytes: number, orientation = 1): Promise<TurboPixels | null> {
  const a = load();
  if (!a) return null;
  const out = kept.take(expectBytes);
  const r = isMainThread ? await a.decodeAsync(bytes, denom, out, orientation) : a.decodeSync(bytes, denom, out, orientation);
  if (!('buffer' in r)) {
    if (out) kept.giveBack(out);
    return null;
  }
  let released = false;
  return {
    data: new Uint8Array(r.buffer, 0, r.width * r.height * 3),
    width: r.width,
    height: r.height,
    release: () => {
      if (released) return;
      released = true;
      kept.giveBack(r.buffer);
    },
  };
}
