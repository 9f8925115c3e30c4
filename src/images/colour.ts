// CSS colour strings ('white', '#808080', 'rgb(0,0,0)') -> RGB bytes, parsed the same
// way sharp's flatten({ background }) parses them, so alpha compositing in decodeImage
// and letterbox padding in resizeImage agree on the colour.
import sharp from 'sharp';

const cache = new Map<string, [number, number, number]>();

/** Resolves a CSS colour to [r, g, b] 0..255 (alpha ignored). Throws RangeError if unparsable. */
export async function parseColour(css: string): Promise<[number, number, number]> {
  const hit = cache.get(css);
  if (hit) return hit;
  let data: Buffer;
  try {
    data = await sharp({ create: { width: 1, height: 1, channels: 3, background: css } }).raw().toBuffer();
  } catch (err) {
    throw new RangeError(`Not a CSS colour. Received: background=${JSON.stringify(css)}`, { cause: err });
  }
  const rgb: [number, number, number] = [data[0]!, data[1]!, data[2]!];
  cache.set(css, rgb);
  return rgb;
}
