// What one image costs in memory on its way to the model, estimated from its header
// before it is decoded: the prefetch queue admits images against this (--prefetch-mb).
import { shrinkOnLoadSize, fastDecodeDenom, FAST_DECODE_MARGIN, jpegTurboTakes, readSourceInfo, type SourceInfo } from '../images/index.js';
import type { ImageSettings } from './decode-one.js';

/** What the header says: the decoder's own SourceInfo, read without decoding (and handed to it). */
export type ImageHeader = Pick<SourceInfo, 'format' | 'width' | 'height' | 'channels' | 'depth' | 'space' | 'progressive' | 'orientation' | 'pages'> &
  Partial<Pick<SourceInfo, 'hasIccProfile'>>;

export const readHeader: (file: string) => Promise<SourceInfo | null> = readSourceInfo;

/** Bytes of the model input and the float copies made on the way (resize, preprocess). */
export function modelInputBytes(settings: Pick<ImageSettings, 'size'>): number {
  return settings.size[0] * settings.size[1] * 3 * 4 * 2;
}

/** The JPEG shrink-on-load factor libvips uses for a shrink of `shrink` (sharp's pipeline.cc rule, fastShrinkOnLoad). */
function jpegShrinkFactor(shrink: number): number {
  let f = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  if (f > 1 && Math.trunc(shrink) === f) f /= 2;
  return f;
}

/**
 * Peak bytes one image holds while decoded and resized: its decoded pixels (at the
 * reduced scale when `--decode fast` shrinks it on load), the decoder's whole-image
 * buffer for progressive/interlaced files, the 16-bit or CMYK copy Keras-compatible
 * decoding makes, plus the model input. An unreadable header counts as the input only.
 */
export function estimateImageBytes(header: ImageHeader | null, settings: ImageSettings): number {
  const input = modelInputBytes(settings);
  if (!header) return input;
  // An unknown channel count is charged as RGB.
  const channels = header.channels || 3;
  const sourceBytesPerPixel = channels * (header.depth === 'ushort' ? 2 : header.depth === 'uchar' ? 1 : 4);
  let pixels = header.width * header.height;
  let reducedPixels = pixels;
  if (settings.decode === 'fast' && !settings.kerasCompat) {
    const min = { minWidth: FAST_DECODE_MARGIN * settings.size[1], minHeight: FAST_DECODE_MARGIN * settings.size[0] };
    const to = shrinkOnLoadSize(header, min);
    if (to) {
      reducedPixels = to.width * to.height;
      // libjpeg-turbo decodes straight to that size; libvips stops one factor short of it.
      const native = jpegTurboTakes({ hasIccProfile: false, ...header }, { autoOrient: true });
      const denom = fastDecodeDenom(header, min);
      const factor = native ? denom : header.format === 'jpeg' ? jpegShrinkFactor(denom) : denom;
      pixels = Math.ceil(header.width / factor) * Math.ceil(header.height / factor);
    }
  }
  let bytes = reducedPixels * 3 + (pixels !== reducedPixels ? pixels * 3 : 0);
  // libjpeg keeps every DCT coefficient (2 bytes) of a progressive JPEG; an interlaced PNG is read whole.
  if (header.progressive) bytes += pixels * (header.format === 'jpeg' ? channels * 2 : sourceBytesPerPixel);
  if (settings.kerasCompat && (header.space === 'cmyk' || header.depth === 'ushort')) bytes += pixels * sourceBytesPerPixel;
  return bytes + input;
}
