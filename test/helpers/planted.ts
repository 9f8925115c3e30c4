// Planted near-duplicates: for a photo, the 6 variants issue 23 names, made with sharp
// (resize to ½, JPEG quality 30, centre crop 85 %, horizontal flip, brightness +20 %,
// a 5 % border). Shared by the search/dedup tests and bench/dedup-quality.ts.
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';

export const VARIANTS = ['half', 'jpeg30', 'crop85', 'flip', 'bright20', 'border5'] as const;
export type Variant = (typeof VARIANTS)[number];

/** Writes the 6 variants of `photo` into `dir` as <stem>__<variant>.<ext>; returns their paths. */
export async function plantVariants(photo: string, dir: string): Promise<string[]> {
  const stem = path.basename(photo).replace(/\.[^.]+$/, '');
  // EXIF orientation applied, first frame, 8-bit sRGB: what the variants are made from.
  const base = sharp(photo, { limitInputPixels: false }).rotate().toColourspace('srgb');
  const { width = 0, height = 0 } = await base.clone().png().toBuffer({ resolveWithObject: true }).then((r) => r.info);
  const out: string[] = [];
  const save = async (variant: Variant, img: Sharp, ext = 'png') => {
    const file = path.join(dir, `${stem}__${variant}.${ext}`);
    await (ext === 'jpg' ? img.jpeg({ quality: 30 }) : img.png()).toFile(file);
    out.push(file);
  };
  await save('half', base.clone().resize(Math.max(1, Math.round(width / 2)), Math.max(1, Math.round(height / 2))));
  await save('jpeg30', base.clone().flatten({ background: 'white' }), 'jpg');
  const cw = Math.round(width * 0.85);
  const ch = Math.round(height * 0.85);
  await save('crop85', base.clone().extract({ left: Math.floor((width - cw) / 2), top: Math.floor((height - ch) / 2), width: cw, height: ch }));
  await save('flip', base.clone().flop());
  await save('bright20', base.clone().modulate({ brightness: 1.2 }));
  const bw = Math.max(1, Math.round(width * 0.05));
  const bh = Math.max(1, Math.round(height * 0.05));
  await save('border5', base.clone().extend({ top: bh, bottom: bh, left: bw, right: bw, background: 'black' }));
  return out;
}
