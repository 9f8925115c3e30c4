// File -> model input: decode, resize, preprocess, with a timing for each stage.
//
// Default path (what a viewer shows, resized the way tf.image.resize does):
//   decodeImage (EXIF applied, ICC -> sRGB, alpha on `background`) -> resizeImage -> preprocess
// kerasCompat path, reproducing Keras exactly:
//   x = image.load_img(path, target_size=(h, w))   # PIL: open, convert("RGB"), NEAREST resize
//   x = image.img_to_array(x)                      # float32 HWC 0..255
//   x = preprocess_input(x)                        # the card's mode
// i.e. decodeImagePil (no EXIF rotation, no ICC, alpha dropped) -> squash + PIL nearest.
// keras/src/utils/image_utils.py load_img: interpolation="nearest" default, squash
// (img.resize(width_height_tuple, resample)) unless keep_aspect_ratio=True.
import { performance } from 'node:perf_hooks';
import type { PreprocessMode } from './preprocess.js';
import type { Interpolation, ResizeMode } from './resize.js';
import { parseColour } from './colour.js';
import { decodeImage, decodeImagePil, type SourceInfo } from './decode.js';
import { preprocess } from './preprocess.js';
import { resizeImage } from './resize.js';

export interface LoadImageOptions {
  /** Model input [height, width]. */
  size: [number, number];
  /** Normalisation for the model (the card's `preprocess`). */
  preprocess: PreprocessMode;
  /** Default 'squash'. Ignored (forced to 'squash') when kerasCompat is true. */
  resize?: ResizeMode;
  /** Default 'bilinear'. Ignored (forced to 'nearest') when kerasCompat is true. */
  interpolation?: Interpolation;
  /** CSS colour behind transparent pixels and around letterboxed images. Default 'white'. */
  background?: string;
  /** center-crop only, see ResizeOptions.cropPct. */
  cropPct?: number;
  /** Reproduce Keras' image.load_img(path, target_size=size) bit for bit. Default false. */
  kerasCompat?: boolean;
  /** Keep stored pixel layout instead of applying EXIF orientation (default path only). */
  keepExifOrientation?: boolean;
  /** Decompression-bomb guard, see DecodeOptions.limitInputPixels. */
  limitInputPixels?: number;
  /**
   * 'exact' (default): full decode, Keras/Pillow/TF pixel parity. 'fast': JPEG and WebP
   * shrink on load to no less than FAST_DECODE_MARGIN x the input size, then the same
   * resize (see DecodeOptions.shrinkOnLoad). Ignored with kerasCompat.
   */
  decode?: DecodeMode;
  /** The header, when already read (see DecodeOptions.source): not read again. */
  source?: SourceInfo;
  /** This thread's CPU clock (ms): with it, timings also give the CPU time each stage took in this thread. */
  cpuClock?: () => number;
}

/** How images reach one model in a run: built by the spec (src/spec/load.ts imageSettingsOf) and nowhere else; the per-image fields (its header, the thread's CPU clock) excluded. */
export type ImageSettings = Omit<LoadImageOptions, 'cropPct' | 'keepExifOrientation' | 'source' | 'cpuClock'>;

export const DECODE_MODES = ['exact', 'fast'] as const;
export type DecodeMode = (typeof DECODE_MODES)[number];
/**
 * `--decode fast` keeps at least this many source pixels per output pixel on each axis:
 * JPEG is DCT-scaled by the largest of 1/8, 1/4, 1/2 that still covers the input size.
 */
export const FAST_DECODE_MARGIN = 2;

export interface LoadedImage {
  /** HWC float32, shape [size[0], size[1], 3], ready for the model (add the batch axis). */
  input: Float32Array;
  shape: [number, number, 3];
  /** What the file held (format, size, colour space, orientation...). */
  source: SourceInfo;
  /** The settings actually used (kerasCompat overrides resize and interpolation). */
  applied: { resize: ResizeMode; interpolation: Interpolation; preprocess: PreprocessMode; kerasCompat: boolean };
  timings: { decodeMs: number; resizeMs: number; preprocessMs: number; decodeCpuMs?: number; preprocessCpuMs?: number };
}

/** Decodes `file`, resizes it to `opts.size` and normalises it for a model. */
export async function loadImageForModel(file: string | Buffer, opts: LoadImageOptions): Promise<LoadedImage> {
  const kerasCompat = opts.kerasCompat ?? false;
  const resize: ResizeMode = kerasCompat ? 'squash' : (opts.resize ?? 'squash');
  const interpolation: Interpolation = kerasCompat ? 'nearest' : (opts.interpolation ?? 'bilinear');
  const background = opts.background ?? 'white';

  const clock = opts.cpuClock;
  const c0 = clock?.();
  const t0 = performance.now();
  const decoded = kerasCompat
    ? await decodeImagePil(file, { limitInputPixels: opts.limitInputPixels, source: opts.source })
    : await decodeImage(file, {
        source: opts.source,
        background,
        keepExifOrientation: opts.keepExifOrientation,
        limitInputPixels: opts.limitInputPixels,
        shrinkOnLoad:
          opts.decode === 'fast' ? { minWidth: FAST_DECODE_MARGIN * opts.size[1], minHeight: FAST_DECODE_MARGIN * opts.size[0] } : undefined,
      });
  const t1 = performance.now();
  const c1 = clock?.();
  const letterbox = resize === 'letterbox' ? await parseColour(background) : undefined;
  const pixels = resizeImage(decoded, { size: opts.size, mode: resize, interpolation, background: letterbox, cropPct: opts.cropPct });
  decoded.release?.(); // the decoded pixels are no longer needed: their buffer serves the next image
  const t2 = performance.now();
  // In place: the resized array is this image's own, and a second 224x224x3 array per image
  // is a fresh 600 KB to zero and later collect.
  const input = preprocess(pixels, opts.preprocess, pixels);
  const t3 = performance.now();
  const c3 = clock?.();
  // CPU in this thread: all of resize + preprocess; of decoding only what ran here (libjpeg-turbo
  // in a decode thread), not sharp's, which runs on libvips' threads.
  const cpu = c0 !== undefined && c1 !== undefined && c3 !== undefined ? { decodeCpuMs: c1 - c0, preprocessCpuMs: c3 - c1 } : {};

  return {
    input,
    shape: [opts.size[0], opts.size[1], 3],
    source: decoded.source,
    applied: { resize, interpolation, preprocess: opts.preprocess, kerasCompat },
    timings: { decodeMs: t1 - t0, resizeMs: t2 - t1, preprocessMs: t3 - t2, ...cpu },
  };
}
