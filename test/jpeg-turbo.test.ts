// The libjpeg-turbo decoder (native/jpeg.c): built here (CI requires it), bit-identical
// to sharp and to Pillow on the real JPEGs it takes, leaves the others (CMYK, EXIF
// rotation, an ICC profile that is not sRGB, damaged data) to sharp, and decodes into
// memory its thread keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import sharp from 'sharp';
import { decodeImage, decodeImagePil, iccIsSrgb, iccSrgbError, jpegDecoder, jpegTurboTakes, readSourceInfo, SRGB_PROFILE_TOLERANCE } from '../src/images/index.js';
import { decodeJpegTurbo } from '../src/images/jpeg-turbo.js';
import { runCli } from './helpers/cli.js';
import { parseJsonl } from './helpers/cache.js';
import { IMAGES, MODELS, dataPath, skipWithoutData } from './helpers/data.js';

const skip = skipWithoutData();
const native = jpegDecoder().native;
const noNative = native ? false : `the libjpeg-turbo decoder is not built (${jpegDecoder().label})`;
const JPEGS = skip ? [] : readdirSync(dataPath('images')).filter((f) => /\.jpe?g$/i.test(f)).sort();

test('the libjpeg-turbo decoder is built (npm run build; CI requires it, elsewhere JPEGs decode with sharp)', () => {
  if (process.env.CI === 'true') assert.ok(native, jpegDecoder().label);
  else if (!native) return;
  assert.match(jpegDecoder().label, /^libjpeg-turbo \d+\.\d+\.\d+$/);
});

test("it takes plain JPEGs only, and its pixels are sharp's bit for bit", { skip: skip || noNative }, async () => {
  const taken: string[] = [];
  for (const f of JPEGS) {
    const source = await readSourceInfo(IMAGES(f));
    if (!source || !jpegTurboTakes(source, { autoOrient: true })) continue;
    taken.push(f);
    const ours = await decodeImage(IMAGES(f), { source }).catch((e: Error) => e);
    // As decodeImage: EXIF orientation applied.
    const ref = await sharp(IMAGES(f), { failOn: 'error', autoOrient: true }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true }).catch((e: Error) => e);
    if (ref instanceof Error) {
      assert.ok(ours instanceof Error, `${f}: sharp refuses it, so must we`);
      continue;
    }
    assert.ok(!(ours instanceof Error), `${f}: ${String(ours)}`);
    assert.deepEqual([ours.width, ours.height], [ref.info.width, ref.info.height], f);
    assert.ok(Buffer.from(ours.data.buffer, ours.data.byteOffset, ours.data.byteLength).equals(ref.data), `${f}: pixels differ from sharp's`);
  }
  // Taken although they carry an ICC profile: the cups' "sRGB" and the railway's "GIMP
  // built-in sRGB" (sharp's conversion to sRGB leaves their pixels as they are: equal above);
  // and the EXIF-rotated one, turned as it is decoded (equal above, sides swapped).
  // Not taken: the Adobe CMYK JPEG (sharp converts it), the rocket's Adobe RGB (1998)
  // profile (sharp's conversion moves pixels by up to 55) and the truncated one, whose
  // header cannot be read.
  for (const f of ['colorful_cups__plasma_ColorfulCups.jpg', 'railway_city_view__forensics.jpg', 'orientation_6_letter_F__imaging.jpg']) assert.ok(taken.includes(f), `${f} not taken: ${taken.join(', ')}`);
  assert.deepEqual(JPEGS.filter((f) => !taken.includes(f)), [
    'rocket_falcon9_launchpad__skimage.jpg',
    'speakers_stage_cmyk__go_video001.jpeg',
    'truncated__skimage.jpg',
  ]);
});

// sha256 of Pillow's Image.open(f).convert('RGB').tobytes(): Debian python3-pil 9.4.0 on
// libjpeg-turbo 2.1.5 (what Keras' load_img decodes with), every readable real JPEG: those
// the addon takes (EXIF-rotated and ICC ones included: PIL ignores both) and the CMYK one (sharp).
const PIL_SHA256: Record<string, string> = {
  'apple_red__opencv.jpg': '661c0ae02b5410fc1044ee37fc58a26ea3dd386334d328861261d7944ba6231d',
  'colorful_cups__plasma_ColorfulCups.jpg': 'a58c10b2412c0aeae855c535c1b28a27a245cd5ce59e83663b404601be9ff19d',
  'daisies_gray__libjxl_flower_q85_gray.jpg': '2b7e27019b0cd4c10155ed531ac44fe9526e093519b59972f5937702864fb7d7',
  'forest_path_5120x2880__plasma_SafeLanding.jpg': 'd50b471f34cfa03e98a4140799ed9137cc27585fbe01ec93c5dc52034e1750ff',
  'fruits_citrus_kiwi__opencv.jpg': '0c0456e454898ef6b32332b7a7ef14ed141c700f289f16a28753c0b537b145f5',
  'mandrill_baboon__opencv.jpg': 'b09de65bfb12908e6fe314635a8294c250f70843afad1f183410b4184e77d80c',
  'orientation_6_letter_F__imaging.jpg': '6f5a1c24975892bfda4ccaa5b031997831ebf2f3f29f2d7976889ff0826b2e11',
  'pier_fog_gray__plasma_Grey.jpg': '0783794ac04f04bacc14ac1a7a6bffae7c5aa055f07fbd0ce2e88740b361d283',
  'railway_city_view__forensics.jpg': '4dda76285111260685c67f8dc8434c9608e04271f3cf0a66e8ec9b17a8b3fd50',
  'rocket_falcon9_launchpad__skimage.jpg': '3d4435cc745752b7f9724df88c6e18817de3ce7e3d2d71c55f85f7831e68f197',
  'samoyeds_two_under_tree__forensics.jpg': '6d79506b0d0efc6d9ca8f855daecaf6c865fd9cc20c958ce43b2d50e0eec47de',
  'speakers_stage_cmyk__go_video001.jpeg': '0c520656f9cdc43373f0adb211da0c8a01a765601d413344f6cc9fdada50b4a1',
  'speakers_stage_rgb__go_video001.jpeg': '5df7ed5f6d91eb6f79386a0efe61fce71c97db3beda8d0d508952a705d836040',
};

test('an ICC profile counts as sRGB when converting from it moves no colour by more than 1.5 levels (Little CMS, exact)', { skip: skip || noNative }, async () => {
  if (process.env.CI === 'true') assert.notEqual(iccSrgbError(new Uint8Array(200)), null, 'the decoder was built without Little CMS (liblcms2-dev)');
  if (iccSrgbError(new Uint8Array(200)) === null) return;
  const profileOf = async (input: string | Buffer) => (await sharp(input).metadata()).icc!;
  const made = (profile: string) => sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).withIccProfile(profile).jpeg().toBuffer();
  // The real photos' profiles: two "sRGB"s as a camera and GIMP embed them, and Adobe RGB.
  const cups = iccSrgbError(await profileOf(IMAGES('colorful_cups__plasma_ColorfulCups.jpg')))!;
  const railway = iccSrgbError(await profileOf(IMAGES('railway_city_view__forensics.jpg')))!;
  const adobe = iccSrgbError(await profileOf(IMAGES('rocket_falcon9_launchpad__skimage.jpg')))!;
  // libvips' own sRGB profile, and Display P3 (the same curves, wider primaries).
  const vipsSrgb = iccSrgbError(await profileOf(await made('srgb')))!;
  const p3 = iccSrgbError(await profileOf(await made('p3')))!;
  assert.ok(cups > 1 && cups <= SRGB_PROFILE_TOLERANCE, `cups ${cups}`); // its rounded colorants move saturated greens by 1.4
  assert.ok(railway < 0.5 && vipsSrgb < 0.5, `${railway} ${vipsSrgb}`);
  assert.ok(adobe > 50 && p3 > 50, `${adobe} ${p3}`);
  for (const [profile, srgb] of [[await profileOf(IMAGES('colorful_cups__plasma_ColorfulCups.jpg')), true], [await profileOf(await made('p3')), false]] as const) assert.equal(iccIsSrgb(profile), srgb);
  // Not an RGB profile, or not a profile: -1, never sRGB.
  assert.equal(iccSrgbError(await profileOf(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).toColourspace('cmyk').withIccProfile('cmyk').jpeg().toBuffer())), -1);
  assert.equal(iccSrgbError(new Uint8Array(500)), -1);
  assert.equal(iccIsSrgb(new Uint8Array(500)), false);
  // What the header reader records, so the decoder can take the photo.
  assert.equal((await readSourceInfo(IMAGES('colorful_cups__plasma_ColorfulCups.jpg')))!.iccIsSrgb, true);
  assert.equal((await readSourceInfo(IMAGES('rocket_falcon9_launchpad__skimage.jpg')))!.iccIsSrgb, false);
  assert.equal((await readSourceInfo(IMAGES('apple_red__opencv.jpg')))!.iccIsSrgb, false);
});

test('EXIF orientation is applied as the rows are decoded: all eight, as sharp turns them, at full and DCT-reduced scale', { skip: skip || noNative }, async () => {
  // A 203x117 photo (odd sides, so a wrong axis shows) saved with each orientation.
  const stored = await sharp(IMAGES('mandrill_baboon__opencv.jpg')).resize(203, 117).jpeg({ quality: 90 }).toBuffer();
  const pixels = (p: { data: Uint8Array }) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
  let upright: Buffer | null = null;
  for (let o = 1; o <= 8; o++) {
    const file = await sharp(stored).withMetadata({ orientation: o }).jpeg({ quality: 90 }).toBuffer();
    const source = (await sharp(file).metadata()).orientation;
    assert.equal(source ?? 1, o);
    const ours = await decodeImage(file);
    assert.ok(ours.release, `orientation ${o}: decoded by the addon`);
    const ref = await sharp(file, { autoOrient: true }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([ours.width, ours.height], [ref.info.width, ref.info.height], `orientation ${o}`);
    assert.ok(pixels(ours).equals(ref.data), `orientation ${o}: pixels differ from sharp's`);
    ours.release!();
    // Kept as stored when asked.
    const kept = await decodeImage(file, { keepExifOrientation: true });
    assert.deepEqual([kept.width, kept.height], [203, 117]);
    kept.release?.();
    // At 1/2 scale (sharp's reduced decode is another resampling, so the oracle here is the
    // same decode's upright pixels): turned 180 degrees is the upright image reversed pixel by pixel.
    const half = await decodeJpegTurbo(file, 2, 102 * 59 * 3, o);
    assert.ok(half);
    assert.deepEqual([half.width, half.height], o >= 5 ? [59, 102] : [102, 59]);
    if (o === 1) upright = Buffer.from(pixels(half));
    if (o === 3) {
      const reversed = Buffer.alloc(upright!.length);
      for (let i = 0; i < reversed.length; i += 3) upright!.copy(reversed, reversed.length - 3 - i, i, i + 3);
      assert.ok(pixels(half).equals(reversed), 'orientation 3 at 1/2 scale');
    }
    half.release();
  }
});

test("Keras-compatible decoding is Pillow's, byte for byte (orientation ignored, grey replicated)", { skip: skip || noNative }, async () => {
  assert.ok(Object.keys(PIL_SHA256).length >= 10);
  for (const [f, sha] of Object.entries(PIL_SHA256)) {
    const img = await decodeImagePil(IMAGES(f));
    assert.equal(createHash('sha256').update(img.data).digest('hex'), sha, f);
  }
});

test('a JPEG cut mid-scan (readable header, libjpeg warns) is left to sharp, which refuses it as before', { skip: skip || noNative }, async () => {
  const { readFile } = await import('node:fs/promises');
  const whole = await readFile(IMAGES('forest_path_5120x2880__plasma_SafeLanding.jpg'));
  const cut = whole.subarray(0, whole.length >> 1);
  const source = await readSourceInfo(IMAGES('forest_path_5120x2880__plasma_SafeLanding.jpg'));
  assert.ok(source && jpegTurboTakes(source, { autoOrient: true }));
  assert.equal(await decodeJpegTurbo(cut, 1, 5120 * 2880 * 3), null, 'libjpeg warns: not ours to judge');
  await assert.rejects(decodeImage(cut), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'E_DECODE');
    assert.match(e.message, /^Cannot decode <buffer>: .*\(the file is damaged or truncated\)\.$/);
    return true;
  });
});

test('a thread decodes into the memory it kept: after release the next photo lands in the same buffer', { skip: skip || noNative }, async () => {
  const { readFile } = await import('node:fs/promises');
  const big = await readFile(IMAGES('forest_path_5120x2880__plasma_SafeLanding.jpg'));
  const small = await readFile(IMAGES('railway_city_view__forensics.jpg'));
  const a = await decodeJpegTurbo(big, 1, 5120 * 2880 * 3);
  assert.ok(a);
  const buffer = a.data.buffer;
  a.release();
  const b = await decodeJpegTurbo(small, 1, 1280 * 960 * 3);
  assert.ok(b);
  assert.equal(b.data.buffer, buffer, 'the smaller photo reuses the bigger buffer');
  assert.deepEqual([b.width, b.height, b.data.length], [1280, 960, 1280 * 960 * 3]);
  // Not released: the next decode cannot take it and gets memory of its own.
  const c = await decodeJpegTurbo(small, 2, 640 * 480 * 3);
  assert.ok(c);
  assert.notEqual(c.data.buffer, buffer);
  assert.deepEqual([c.width, c.height], [640, 480]);
  b.release();
  c.release();
});

test("serve's allocator settings apply through the addon (glibc mallopt and malloc_trim succeed)", { skip: noNative || (process.platform !== 'linux' && 'glibc only') }, async () => {
  const { tuneAllocatorForServing, trimAllocator } = await import('../src/images/allocator.js');
  assert.equal(tuneAllocatorForServing(), true);
  assert.equal(typeof trimAllocator(), 'boolean'); // true when it released something
});

test('serve trims the allocator once a burst of decodes is over, never during one', async () => {
  const { TrimAfterBursts } = await import('../src/images/allocator.js');
  const t = new TrimAfterBursts();
  // (decodes in the second, trim at its end?) for: idle, a 3-second burst, 2 idle seconds, a 1-second burst, idle.
  const seconds = [0, 5, 9, 4, 0, 0, 1, 0, 0];
  const trims = seconds.map((n) => {
    for (let i = 0; i < n; i++) t.decoded();
    return t.tick();
  });
  assert.deepEqual(trims, [false, false, false, false, true, false, false, true, false]);
});

test('CLI: extract gives byte-identical vectors with BACKBONES_JPEG_DECODER=sharp (exact decoding is the same whichever decoder)', { skip: skip || noNative, timeout: 240_000 }, async () => {
  const args = ['extract', dataPath('images'), '-m', MODELS('mobilenet_v1_0.25_224'), '--layer', 'global_average_pooling2d_1', '--preprocess', 'tf', '--backend', 'onnx', '-q', '--ext', 'jpg,jpeg'];
  const [ours, theirs] = [await runCli(args), await runCli(args, { env: { BACKBONES_JPEG_DECODER: 'sharp' } })];
  assert.equal(ours.code, 3, ours.stderr); // the truncated JPEG fails in both
  assert.equal(theirs.code, 3, theirs.stderr);
  const a = parseJsonl(ours.stdout) as { path: string; vector?: number[]; error?: string }[];
  const b = parseJsonl(theirs.stdout) as typeof a;
  assert.equal(a.length, JPEGS.length);
  assert.deepEqual(a, b);
  assert.equal(a.filter((r) => r.error).length, 1);
});
