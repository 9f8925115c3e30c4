// How far from "leave the pixels alone" converting from an embedded ICC profile to sRGB
// moves colours, for the profiles of the real photos and libvips' own: every one of the
// 2^24 8-bit RGB colours, as a lossless PNG tagged with the profile, converted by sharp the
// way decodeImage converts (libvips' 8-bit transform, perceptual intent), against the
// profile's exact deviation (Little CMS float, the addon's iccSrgbError, which decides
// whether a JPEG carrying the profile decodes natively without converting).
//
//   npx tsx bench/icc-srgb.ts
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { iccSrgbError, SRGB_PROFILE_TOLERANCE } from '../src/images/index.js';

const dataDir = path.resolve(import.meta.dirname, '..', process.env.BACKBONES_TEST_DATA ?? '../shared/data');
const photo = (f: string) => path.join(dataDir, 'images', f);
const SIDE = 4096; // 4096 x 4096 = every 8-bit RGB colour once
const cube = Buffer.alloc(SIDE * SIDE * 3);
for (let i = 0; i < SIDE * SIDE; i++) {
  cube[i * 3] = i >> 16;
  cube[i * 3 + 1] = (i >> 8) & 255;
  cube[i * 3 + 2] = i & 255;
}
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bb-icc-'));
const tiny = () => sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } });
const profiles: [string, Buffer][] = [
  ['colorful_cups (embedded "sRGB", v2)', (await sharp(photo('colorful_cups__plasma_ColorfulCups.jpg')).metadata()).icc!],
  ['railway (embedded "GIMP built-in sRGB", v4)', (await sharp(photo('railway_city_view__forensics.jpg')).metadata()).icc!],
  ["libvips' built-in sRGB", (await sharp(await tiny().withIccProfile('srgb').jpeg().toBuffer()).metadata()).icc!],
  ['rocket (embedded "Adobe RGB (1998)")', (await sharp(photo('rocket_falcon9_launchpad__skimage.jpg')).metadata()).icc!],
  ["libvips' built-in Display P3", (await sharp(await tiny().withIccProfile('p3').jpeg().toBuffer()).metadata()).icc!],
];
sharp.cache(false);
console.log(`every 8-bit colour (${SIDE}x${SIDE}) through each profile; tolerance for "sRGB": ${SRGB_PROFILE_TOLERANCE} levels`);
console.log('| profile | exact deviation, levels (iccSrgbError) | counts as sRGB | sharp: colours moved | sharp: most moved, levels | sharp: mean moved, levels |');
console.log('|---|---:|---|---:|---:|---:|');
try {
  for (const [name, icc] of profiles) {
    const file = path.join(tmp, 'p.icc');
    writeFileSync(file, icc);
    const png = await sharp(cube, { raw: { width: SIDE, height: SIDE, channels: 3 }, limitInputPixels: false }).withIccProfile(file).png({ compressionLevel: 1 }).toBuffer();
    const out = await sharp(png, { limitInputPixels: false }).toColourspace('srgb').raw().toBuffer();
    let moved = 0, most = 0, sum = 0;
    for (let i = 0; i < SIDE * SIDE; i++) {
      let m = 0;
      for (let c = 0; c < 3; c++) m = Math.max(m, Math.abs(out[i * 3 + c]! - cube[i * 3 + c]!));
      if (m > 0) moved++;
      most = Math.max(most, m);
      sum += m;
    }
    const exact = iccSrgbError(icc);
    const pct = (100 * moved) / (SIDE * SIDE);
    console.log(`| ${name} | ${exact === null ? 'n/a (no Little CMS)' : exact.toFixed(2)} | ${exact !== null && exact >= 0 && exact <= SRGB_PROFILE_TOLERANCE ? 'yes' : 'no'} | ${pct.toFixed(2)} % | ${most} | ${(sum / (SIDE * SIDE)).toFixed(3)} |`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
