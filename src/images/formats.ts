// Which files the CLI treats as images, and which of those this sharp build can decode.
// sharp's prebuilt libvips (0.35) reads JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF and SVG,
// but has no ImageMagick loader, so BMP is listed (users expect it) and then refused
// with a clear message by decodeImage instead of libvips' "unsupported image format".
import sharp from 'sharp';

/** File extensions (lower case, no dot) picked up when a folder is scanned. */
export const DEFAULT_EXTENSIONS: readonly string[] = ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'bmp', 'avif'];

/** Container format guessed from the first bytes ("magic numbers"), or null. */
export function sniffFormat(bytes: Uint8Array): 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'bmp' | 'heif' | null {
  const b = bytes;
  const ascii = (start: number, s: string) => s.split('').every((c, i) => b[start + i] === c.charCodeAt(0));
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 'PNG')) return 'png';
  if (b.length >= 6 && (ascii(0, 'GIF87a') || ascii(0, 'GIF89a'))) return 'gif';
  if (b.length >= 12 && ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (b.length >= 4 && (ascii(0, 'II*\0') || ascii(0, 'MM\0*'))) return 'tiff';
  if (b.length >= 12 && ascii(4, 'ftyp')) return 'heif'; // AVIF and HEIC share the ISO-BMFF box
  if (b.length >= 14 && ascii(0, 'BM')) return 'bmp';
  return null;
}

/** Whether this sharp build has a loader for BMP (only builds with ImageMagick/magickload do). */
export function sharpDecodesBmp(): boolean {
  return sharp.format.magick?.input?.buffer === true;
}
