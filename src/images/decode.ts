// Decoding: any supported file -> 8-bit sRGB RGB pixels, HWC, with sharp (libvips).
//
// Two flavours:
// - decodeImage(): what a viewer shows. EXIF orientation applied, embedded ICC profile
//   converted to sRGB (sharp's default), grayscale / CMYK / 16-bit / palette -> 8-bit
//   sRGB, first frame of animations, alpha composited onto a background colour.
// - decodeImagePil(): what Keras' `image.load_img(path)` gets, i.e. PIL's
//   `Image.open(path).convert("RGB")` (keras/src/utils/image_utils.py load_img:
//   `if img.mode != "RGB": img = img.convert("RGB")`). PIL ignores EXIF orientation and
//   ICC profiles, drops alpha instead of compositing, converts CMYK with a naive formula
//   and clips 16-bit grayscale. Each difference is reproduced below with its source.
import { readFile } from 'node:fs/promises';
import sharp, { type KernelEnum, type Metadata, type OutputInfo, type SharpOptions } from 'sharp';
import { BackbonesError, type ErrorCode } from '../errors.js';
import { parseColour } from './colour.js';
import { sniffFormat, sharpDecodesBmp } from './formats.js';

/** sharp's own default pixel limit: 0x3FFF * 0x3FFF. */
export const DEFAULT_LIMIT_INPUT_PIXELS = 268402689;

export type DecodeErrorCode = Extract<ErrorCode, 'E_READ' | 'E_UNSUPPORTED' | 'E_PIXEL_LIMIT' | 'E_DECODE'>;

/** A file that could not be turned into pixels. `path` is the file, or '<buffer>'. */
export class ImageDecodeError extends BackbonesError {
  override readonly name = 'ImageDecodeError';
  readonly path: string;
  declare readonly code: DecodeErrorCode;
  constructor(filePath: string, code: DecodeErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.path = filePath;
  }
}

/** What the file itself holds, before any conversion (from sharp's metadata()). */
export interface SourceInfo {
  format: string;
  width: number;
  height: number;
  channels: number;
  /** libvips band format: 'uchar' (8-bit), 'ushort' (16-bit), ... */
  depth: string;
  /** libvips interpretation: 'srgb', 'b-w', 'cmyk', 'rgb16', 'grey16', ... */
  space: string;
  hasAlpha: boolean;
  /** EXIF orientation 1..8, or null when the file has none. */
  orientation: number | null;
  /** Number of frames/pages (1 for still images). */
  pages: number;
  /** Whether the file embeds an ICC profile. */
  hasIccProfile: boolean;
  /** Progressive JPEG / interlaced PNG: the decoder holds the whole image, not a strip. */
  progressive: boolean;
}

/** SourceInfo from sharp's metadata() (for multi-page files, the first page's size). */
export function sourceInfoOf(meta: Metadata): SourceInfo {
  return {
    format: meta.format ?? 'unknown',
    width: meta.width ?? 0,
    // For multi-page inputs metadata() reports the first page's size via pageHeight.
    height: meta.pageHeight ?? meta.height ?? 0,
    channels: meta.channels ?? 0,
    depth: meta.depth ?? 'unknown',
    space: meta.space ?? 'unknown',
    hasAlpha: meta.hasAlpha ?? false,
    orientation: meta.orientation ?? null,
    pages: meta.pages ?? 1,
    hasIccProfile: meta.icc !== undefined,
    progressive: meta.isProgressive ?? false,
  };
}

/** Reads a file's header only (nothing is decoded): what decodeImage would find, or null when unreadable. */
export async function readSourceInfo(file: string): Promise<SourceInfo | null> {
  try {
    return sourceInfoOf(await sharp(file, { limitInputPixels: false }).metadata());
  } catch {
    return null; // the decode itself will report why
  }
}

export interface DecodedImage {
  /** HWC, RGB, 8-bit sRGB, length height * width * 3. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
  source: SourceInfo;
}

export interface DecodeOptions {
  /** CSS colour that transparent pixels are composited onto. Default 'white'. */
  background?: string;
  /** Keep the stored pixel layout instead of applying EXIF orientation. Default false. */
  keepExifOrientation?: boolean;
  /**
   * Decompression-bomb guard: refuse images with more than this many pixels
   * (width * height, read from the header before decoding). Default 268402689 (sharp's).
   */
  limitInputPixels?: number;
  /**
   * libvips' sensitivity to damaged data (sharp's failOn). Default 'error': truncated or
   * corrupt pixel data throws (a JPEG cut mid-scan would otherwise come back grey-filled),
   * while data that only raises decoder warnings, which sharp's own default 'warning'
   * rejects, still decodes, as it does in PIL and browsers.
   */
  failOn?: 'truncated' | 'error' | 'warning';
  /**
   * `--decode fast`: JPEG and WebP may be decoded at a reduced scale (libvips
   * shrink-on-load: JPEG's DCT scaling by 2/4/8, WebP's scaled decode), then reduced to
   * a size no smaller than this (as displayed, after EXIF orientation) on each axis.
   * Several times cheaper for big photos; the pixels then differ from a full decode.
   * Other formats, and images already no bigger than this, decode in full as usual.
   */
  shrinkOnLoad?: { minWidth: number; minHeight: number };
}

export type PilDecodeOptions = Pick<DecodeOptions, 'limitInputPixels' | 'failOn'>;

/**
 * Decodes a file or buffer to 8-bit sRGB RGB pixels as a viewer shows them.
 * Throws ImageDecodeError (code E_READ, E_UNSUPPORTED, E_PIXEL_LIMIT or E_DECODE) for a
 * file that cannot be turned into pixels, RangeError for an unparsable `background`.
 */
export async function decodeImage(input: string | Buffer, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const background = opts.background ?? 'white';
  await parseColour(background); // a bad colour is the caller's RangeError, not a decode error
  const { name, bytes } = await readInput(input);
  const base = await openChecked(name, bytes, opts);
  const source = base.source;
  const shrinkTo = opts.shrinkOnLoad ? shrinkOnLoadSize(source, opts.shrinkOnLoad, !opts.keepExifOrientation) : null;
  const result = await run(name, () => {
    let pipeline = sharp(bytes, { ...base.sharpOptions, autoOrient: !opts.keepExifOrientation });
    // fastShrinkOnLoad lets libvips pick the largest JPEG shrink (2/4/8) that stays at or
    // above this size, or scale WebP straight to it; FAST_KERNEL does the rest.
    if (shrinkTo) pipeline = pipeline.resize({ ...shrinkTo, fit: 'fill', fastShrinkOnLoad: true, kernel: FAST_KERNEL });
    return pipeline
      // Composites alpha onto the background (a no-op without alpha); sharp scales the
      // colour for 16-bit inputs.
      .flatten({ background })
      // Grey, CMYK (through libvips' fallback CMYK profile when none is embedded, so
      // Adobe-inverted JPEGs come out right), palette and 16-bit -> 8-bit sRGB.
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  });
  return finish(name, result, source);
}

/**
 * sharp kernel for the step from the shrunk-on-load size to shrinkOnLoadSize(). Nearest
 * keeps the point sampling of the exact path (TF's bilinear does not antialias), and so
 * agreed with `exact` best on the real photos: mean feature cosine of the shrunk photos
 * 0.984 against 0.980 (linear), 0.982 (cubic), 0.983 (lanczos3); see bench/RESULTS.md.
 */
export const FAST_KERNEL: keyof KernelEnum = 'nearest';
/** Formats whose libvips loader can shrink on load. */
const SHRINK_ON_LOAD_FORMATS = new Set(['jpeg', 'webp']);

/**
 * The size a `--decode fast` decode reduces to: the source scaled uniformly (aspect
 * kept) until one axis reaches its minimum, or null when no shrink-on-load applies
 * (not JPEG/WebP, or already small enough).
 */
export function shrinkOnLoadSize(
  source: Pick<SourceInfo, 'format' | 'width' | 'height' | 'orientation' | 'pages'>,
  min: { minWidth: number; minHeight: number },
  autoOrient = true,
): { width: number; height: number } | null {
  if (!SHRINK_ON_LOAD_FORMATS.has(source.format) || source.pages > 1) return null;
  const swap = autoOrient && (source.orientation ?? 1) >= 5;
  const width = swap ? source.height : source.width;
  const height = swap ? source.width : source.height;
  const scale = Math.max(min.minWidth / width, min.minHeight / height);
  if (!(scale < 0.5)) return null; // less than 2x to gain: decode in full
  // The 1e-9 keeps float error (3000 * 448 / 3000 = 448.00000000000006) from adding a pixel.
  return { width: Math.max(min.minWidth, Math.ceil(width * scale - 1e-9)), height: Math.max(min.minHeight, Math.ceil(height * scale - 1e-9)) };
}

/**
 * Decodes exactly like PIL's `Image.open(path).convert("RGB")`, the first step of Keras'
 * `image.load_img`: no EXIF rotation, no ICC conversion, alpha dropped (not composited),
 * CMYK and 16-bit grayscale converted with PIL's own formulas. Checked byte for byte
 * against Pillow 12.3 on all 26 decodable images in shared/data/images (JPEG incl. CMYK
 * and grey, PNG incl. RGBA and 16-bit, palette TIFF, 16-bit TIFF, GIF, WebP).
 */
export async function decodeImagePil(input: string | Buffer, opts: PilDecodeOptions = {}): Promise<DecodedImage> {
  const { name, bytes } = await readInput(input);
  const base = await openChecked(name, bytes, opts);
  const source = base.source;
  // PIL never reads the ICC profile when converting modes, nor the EXIF orientation
  // (load_img calls no ImageOps.exif_transpose).
  const pilOptions = { ...base.sharpOptions, autoOrient: false, ignoreIcc: true };

  if (source.space === 'cmyk') {
    // libvips undoes the Adobe inversion like PIL's JpegImagePlugin ("CMYK;I" rawmode),
    // so these are plain ink amounts; then Pillow's naive conversion,
    // src/libImaging/Convert.c cmyk2rgb():
    //   nk = 255 - k; out = CLIP8(nk - MULDIV255(c, nk, tmp))
    //   MULDIV255(a, b, tmp) = (tmp = a * b + 128, ((tmp >> 8) + tmp) >> 8)
    const { data, info } = await run(name, () =>
      sharp(bytes, pilOptions).pipelineColourspace('cmyk').toColourspace('cmyk').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }),
    );
    const n = info.width * info.height;
    const out = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      const s = i * info.channels;
      const nk = 255 - data[s + 3]!;
      for (let c = 0; c < 3; c++) {
        const tmp = data[s + c]! * nk + 128;
        const v = nk - (((tmp >> 8) + tmp) >> 8);
        out[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    return { data: out, width: info.width, height: info.height, channels: 3, source };
  }

  if (source.depth === 'ushort' && source.channels === 1) {
    // 16-bit grayscale opens in PIL as "I;16" (PNG) / "I"; converting to RGB clips
    // instead of scaling (Pillow Convert.c I16_RGB / i2rgb: values above 255 become
    // 255), so such images come out mostly white. Reproduced on purpose. (16-bit grey
    // with alpha opens as "RGBA" from the high bytes and takes the general path.)
    const { data, info } = await run(name, () =>
      sharp(bytes, pilOptions).extractChannel(0).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true }),
    );
    const grey = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    const n = info.width * info.height;
    const out = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      const v = grey[i * info.channels]!;
      out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = v > 255 ? 255 : v;
    }
    return { data: out, width: info.width, height: info.height, channels: 3, source };
  }

  // Everything else matches libvips' plain conversion: L -> RGB replicates the grey
  // value (Convert.c l2rgb), "P" expands the palette, RGBA/LA -> RGB drops alpha
  // (rgba2rgb) and 16-bit RGB keeps the high byte (PIL's "RGB;16B" rawmode = libvips'
  // rgb16 -> srgb shift by 8).
  const result = await run(name, () =>
    sharp(bytes, pilOptions).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }),
  );
  return finish(name, result, source);
}

// ---------------------------------------------------------------------------------

async function readInput(input: string | Buffer): Promise<{ name: string; bytes: Buffer }> {
  if (typeof input !== 'string') return { name: '<buffer>', bytes: input };
  try {
    return { name: input, bytes: await readFile(input) };
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ImageDecodeError(input, 'E_READ', `Cannot read ${input} (${reason}).`, { cause: err });
  }
}

interface Opened {
  source: SourceInfo;
  sharpOptions: SharpOptions;
}

/** Header-only checks before any pixel is decoded: format support and the pixel limit. */
async function openChecked(name: string, bytes: Buffer, opts: DecodeOptions): Promise<Opened> {
  const label = name;
  if (sniffFormat(bytes) === 'bmp' && !sharpDecodesBmp()) {
    throw new ImageDecodeError(
      name,
      'E_UNSUPPORTED',
      `Cannot decode ${label}: BMP is not supported by this sharp build (its libvips has no BMP loader); convert the file to PNG.`,
    );
  }
  const limit = opts.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  const sharpOptions: SharpOptions = {
    failOn: opts.failOn ?? 'error',
    limitInputPixels: limit,
    // First frame only: pages/page select one frame of a GIF, animated WebP or multi-page TIFF.
    pages: 1,
    page: 0,
  };
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: sharpOptions.failOn, limitInputPixels: false }).metadata();
  } catch (err) {
    throw wrapSharpError(name, err);
  }
  const source = sourceInfoOf(meta);
  const { width, height: frameHeight } = source;
  if (limit > 0 && width * frameHeight > limit) {
    throw new ImageDecodeError(
      name,
      'E_PIXEL_LIMIT',
      `Refusing to decode ${label}: ${width}x${frameHeight} = ${width * frameHeight} pixels exceeds the limit of ${limit} (limitInputPixels), a guard against decompression bombs.`,
    );
  }
  return { source, sharpOptions };
}

async function run<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw wrapSharpError(name, err);
  }
}

function wrapSharpError(name: string, err: unknown): ImageDecodeError {
  if (err instanceof ImageDecodeError) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const label = name;
  if (/exceeds pixel limit/i.test(raw)) {
    return new ImageDecodeError(name, 'E_PIXEL_LIMIT', `Refusing to decode ${label}: it exceeds the pixel limit (limitInputPixels).`, { cause: err });
  }
  if (/unsupported image format/i.test(raw)) {
    return new ImageDecodeError(name, 'E_UNSUPPORTED', `Cannot decode ${label}: not an image format this sharp build reads.`, { cause: err });
  }
  // libvips messages can span several lines ("VipsJpeg: premature end of JPEG image\n...").
  const first = raw.split('\n')[0]!.trim().replace(/\.$/, '');
  return new ImageDecodeError(name, 'E_DECODE', `Cannot decode ${label}: ${first} (the file is damaged or truncated).`, { cause: err });
}

function finish(name: string, result: { data: Buffer; info: OutputInfo }, source: SourceInfo): DecodedImage {
  const { data, info } = result;
  if (info.channels !== 3) {
    throw new ImageDecodeError(name, 'E_DECODE', `Cannot decode ${name}: got ${info.channels} channels after conversion, expected 3.`);
  }
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: 3,
    source,
  };
}
