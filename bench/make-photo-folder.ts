// Makes the folder that bench/pipeline-ratio.ts measures (bench/RESULTS.md §11): the real
// photos of ../shared/data/images re-encoded as JPEG q90 at their own size (mirrored copies
// to make 36), and every 4th file a phone-size 4000x3000 JPEG made from them: a quarter big.
//   npx tsx bench/make-photo-folder.ts OUT_DIR
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

const out = process.argv[2];
if (!out) throw new Error('usage: npx tsx bench/make-photo-folder.ts OUT_DIR');
const data = path.resolve(import.meta.dirname, '..', process.env.BACKBONES_TEST_DATA ?? '../shared/data');
const dir = path.join(data, 'images');
// Not photos: the truncated JPEG, the animated GIF, the 64-px PNG, the orientation test card.
const skip = /^(truncated|tiny_animated|tulips_16bit_64px|orientation_6)/;
const photos = readdirSync(dir).filter((f) => !skip.test(f)).sort();
mkdirSync(out, { recursive: true });
const small: { name: string; src: string; mirror: boolean }[] = [];
for (const f of photos) small.push({ name: f, src: path.join(dir, f), mirror: false });
for (const f of photos) if (small.length < 36) small.push({ name: `mirrored_${f}`, src: path.join(dir, f), mirror: true });
let n = 0;
let big = 0;
for (let i = 0; i < 48; i++) {
  const file = path.join(out, `${String(i).padStart(2, '0')}`);
  if (i % 4 === 3) {
    const src = path.join(dir, photos[big++ % photos.length]!);
    await sharp(src).rotate().resize(4000, 3000, { fit: 'cover', kernel: 'lanczos3' }).flatten({ background: 'white' }).jpeg({ quality: 90 }).toFile(`${file}_phone_4000x3000.jpg`);
  } else {
    const s = small[n++ % small.length]!;
    let img = sharp(s.src).rotate().flatten({ background: 'white' });
    if (s.mirror) img = img.flop();
    await img.toColourspace('srgb').jpeg({ quality: 90 }).toFile(`${file}_${s.name.replace(/\.[^.]+$/, '')}.jpg`);
  }
}
console.log(`${out}: 48 JPEGs, 12 of them 4000x3000`);
