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
import { decodeJpegTurbo, iccIsSrgb, jpegTurboTakes } from './jpeg-turbo.js';

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
  /**
   * Whether that profile is sRGB, so converting from it changes nothing (jpeg-turbo.ts
   * iccIsSrgb). Judged for RGB JPEGs only, the one case it decides anything for (the native
   * decoder); false for other formats and without a profile.
   */
  iccIsSrgb: boolean;
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
    iccIsSrgb: meta.format === 'jpeg' && meta.space === 'srgb' && meta.icc !== undefined && iccIsSrgb(meta.icc),
    progressive: meta.isProgressive ?? false,
  };
}

/**
 * What this thread read: headers (sharp's metadata(), the only header reader) and pixel
 * decodes. The pipeline reads each image's header once and decodes it once; the tests
 * hold it to that.
 */
export const readCounts = { headers: 0, decodes: 0 };

async function readMetadata(input: string | Buffer, options: SharpOptions): Promise<Metadata> {
  readCounts.headers += 1;
  return sharp(input, options).metadata();
}

/** Reads a file's header only (nothing is decoded): what decodeImage would find, or null when unreadable. */
export async function readSourceInfo(file: string): Promise<SourceInfo | null> {
  try {
    // failOn as the decode's own, so a file the decoder will try has a header here too.
    return sourceInfoOf(await readMetadata(file, { failOn: 'error', limitInputPixels: false }));
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
  /**
   * Set when the pixels live in a buffer this thread reuses (the libjpeg-turbo decoder):
   * call it once done with `data` so the next decode needs no new memory.
   */
  release?: () => void;
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
  /**
   * The header, when the caller already read it (the prefetch budget does, for its
   * estimate): it is not read again. It must be this input's own.
   */
  source?: SourceInfo;
}

export type PilDecodeOptions = Pick<DecodeOptions, 'limitInputPixels' | 'failOn' | 'source'>;

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
  const autoOrient = !opts.keepExifOrientation;
  const denom = opts.shrinkOnLoad ? fastDecodeDenom(source, opts.shrinkOnLoad, autoOrient) : 1;
  const shrinkTo = denom > 1 ? scaledSize(source, denom, autoOrient) : null;
  readCounts.decodes += 1;
  if (jpegTurboTakes(source, { autoOrient })) {
    const orientation = autoOrient ? (source.orientation ?? 1) : 1;
    const px = await decodeJpegTurbo(bytes, denom, Math.ceil(source.width / denom) * Math.ceil(source.height / denom) * 3, orientation);
    if (px) return { ...px, channels: 3, source };
  }
  const result = await run(name, () => {
    let pipeline = sharp(bytes, { ...base.sharpOptions, autoOrient: !opts.keepExifOrientation });
    // The size libjpeg's DCT scaling by `denom` gives: libvips shrinks JPEG on load as far
    // as it will (it stops one factor short of an exact one) and FAST_KERNEL does the rest;
    // WebP scales straight to it.
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
/** Formats whose decoder can shrink on load. */
const SHRINK_ON_LOAD_FORMATS = new Set(['jpeg', 'webp']);
/** JPEG's DCT scaling factors (1/2, 1/4, 1/8), largest first. */
const DCT_DENOMS = [8, 4, 2] as const;

type Geometry = Pick<SourceInfo, 'format' | 'width' | 'height' | 'orientation' | 'pages'>;

/**
 * `--decode fast`: the largest of 8, 4, 2 such that the image decoded at 1/denom (DCT
 * scaling, sides rounded up as libjpeg does) is still at least `min` on both axes (as
 * displayed, after EXIF orientation); 1 when no such shrink applies (not JPEG/WebP, an
 * animation, or too small).
 */
export function fastDecodeDenom(source: Geometry, min: { minWidth: number; minHeight: number }, autoOrient = true): 1 | 2 | 4 | 8 {
  if (!SHRINK_ON_LOAD_FORMATS.has(source.format) || source.pages > 1) return 1;
  const { width, height } = orientedSize(source, autoOrient);
  return DCT_DENOMS.find((d) => Math.ceil(width / d) >= min.minWidth && Math.ceil(height / d) >= min.minHeight) ?? 1;
}

function orientedSize(source: Geometry, autoOrient: boolean): { width: number; height: number } {
  const swap = autoOrient && (source.orientation ?? 1) >= 5;
  return swap ? { width: source.height, height: source.width } : { width: source.width, height: source.height };
}

function scaledSize(source: Geometry, denom: number, autoOrient: boolean): { width: number; height: number } {
  const { width, height } = orientedSize(source, autoOrient);
  return { width: Math.ceil(width / denom), height: Math.ceil(height / denom) };
}

/**
 * The size a `--decode fast` decode reduces to (displayed orientation): the source at
 * 1/fastDecodeDenom, or null when it decodes in full.
 */
export function shrinkOnLoadSize(source: Geometry, min: { minWidth: number; minHeight: number }, autoOrient = true): { width: number; height: number } | null {
  const denom = fastDecodeDenom(source, min, autoOrient);
  return denom > 1 ? scaledSize(source, denom, autoOrient) : null;
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
  readCounts.decodes += 1;
  // PIL decodes JPEG with libjpeg(-turbo)'s defaults, as the addon does: same bytes.
  if (jpegTurboTakes(source, null)) {
    const px = await decodeJpegTurbo(bytes, 1, source.width * source.height * 3);
    if (px) return { ...px, channels: 3, source };
  }
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
async function openChecked(name: string, bytes: Buffer, opts: Pick<DecodeOptions, 'limitInputPixels' | 'failOn' | 'source'>): Promise<Opened> {
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
  let source = opts.source;
  if (!source) {
    try {
      source = sourceInfoOf(await readMetadata(bytes, { failOn: sharpOptions.failOn, limitInputPixels: false }));
    } catch (err) {
      throw wrapSharpError(name, err);
    }
  }
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
