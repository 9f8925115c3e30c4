// src/images: decoding real files (all edge cases in shared/data/images), resizing with
// TF/PIL parity, Keras preprocess_input formulas, and the pipeline that chains them.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { tf } from '../src/tf.js';
import { IMAGES, dataPath, skipWithoutData } from './helpers/data.js';
import {
  decodeImage,
  decodeImagePil,
  ImageDecodeError,
  resizeImage,
  resizeBilinearTF,
  resizeNearestPil,
  resizePil,
  resizeAreaTF,
  planResize,
  preprocess,
  PREPROCESS_MODES,
  loadImageForModel,
  DEFAULT_EXTENSIONS,
  sniffFormat,
  sharpDecodesBmp,
  type DecodedImage,
} from '../src/images/index.js';
import { hasExtension } from '../src/images/inputs.js';

const skip = skipWithoutData();

const CAT = 'cat_tabby_chelsea__skimage.png';
const F_ORIENT6 = 'orientation_6_letter_F__imaging.jpg';
const GIF = 'tiny_animated_24frames__skimage_no_time_for_that.gif';
const TRUNCATED = 'truncated__skimage.jpg';

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

/** Fraction of dark pixels (mean of RGB < 128) in [x0, x1) x [y0, y1). */
function darkFraction(img: DecodedImage, x0: number, y0: number, x1: number, y1: number): number {
  let dark = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * img.width + x) * 3;
      if (img.data[i]! + img.data[i + 1]! + img.data[i + 2]! < 3 * 128) dark++;
    }
  }
  return dark / ((x1 - x0) * (y1 - y0));
}

/** A valid 24-bit BMP (BITMAPINFOHEADER, bottom-up rows padded to 4 bytes), 2x1 px. */
function tinyBmp(): Buffer {
  const rowBytes = 8; // 2 px * 3 bytes, padded to 4
  const buf = Buffer.alloc(54 + rowBytes);
  buf.write('BM', 0, 'ascii');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(2, 18);
  buf.writeInt32LE(1, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(24, 28);
  buf.writeUInt32LE(rowBytes, 34);
  buf.set([0, 0, 255, 255, 0, 0], 54); // BGR: red, blue
  return buf;
}

describe('decodeImage on every real file', { skip }, () => {
  test('all files decode to 8-bit RGB of a sane size; only the truncated JPEG fails, with ImageDecodeError', async () => {
    const files = readdirSync(dataPath('images')).sort();
    assert.ok(files.length >= 27, `expected the 27+ shared images, found ${files.length}`);
    const results = await Promise.allSettled(files.map((f) => decodeImage(IMAGES(f))));
    const failed: string[] = [];
    results.forEach((r, i) => {
      const f = files[i]!;
      if (r.status === 'rejected') {
        failed.push(f);
        assert.ok(r.reason instanceof ImageDecodeError, `${f}: expected ImageDecodeError, got ${r.reason}`);
        return;
      }
      const img = r.value;
      assert.equal(img.channels, 3, f);
      assert.ok(img.data instanceof Uint8Array, f);
      assert.equal(img.data.length, img.width * img.height * 3, f);
      assert.ok(img.width >= 1 && img.width <= 8192 && img.height >= 1 && img.height <= 8192, `${f}: ${img.width}x${img.height}`);
      // Orientations 5..8 swap width and height.
      const swapped = (img.source.orientation ?? 1) >= 5;
      assert.deepEqual([img.width, img.height], swapped ? [img.source.height, img.source.width] : [img.source.width, img.source.height], f);
      let min = 255;
      let max = 0;
      for (const v of img.data) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      assert.ok(max - min > 20, `${f}: nearly constant image (${min}..${max}), decode went wrong`);
    });
    assert.deepEqual(failed, [TRUNCATED]);
  });

  test('the truncated JPEG error is one sentence naming the file, and carries the path', async () => {
    const file = IMAGES(TRUNCATED);
    await assert.rejects(decodeImage(file), (err: unknown) => {
      assert.ok(err instanceof ImageDecodeError);
      assert.ok(err instanceof Error);
      assert.equal(err.name, 'ImageDecodeError');
      assert.equal(err.path, file);
      assert.equal(err.code, 'E_DECODE');
      assert.ok(err.message.includes(TRUNCATED), err.message);
      assert.ok(!err.message.includes('\n'), `multi-line message: ${err.message}`);
      return true;
    });
  });

  test('a JPEG cut mid-scan is an error, not a half-grey image (failOn)', async () => {
    const whole = readFileSync(IMAGES('apple_red__opencv.jpg'));
    const cut = whole.subarray(0, Math.floor(whole.length * 0.6));
    // Without the guard, libvips fills the missing rows with grey and reports success:
    const lenient = await sharp(cut, { failOn: 'none' }).raw().toBuffer();
    assert.equal(lenient[lenient.length - 1], 128);
    await assert.rejects(decodeImage(cut), (err: unknown) => err instanceof ImageDecodeError && err.path === '<buffer>' && err.code === 'E_DECODE');
    await assert.rejects(decodeImagePil(cut), ImageDecodeError);
  });

  test('a missing file is an ImageDecodeError with code E_READ', async () => {
    const file = IMAGES('no_such_file.jpg');
    await assert.rejects(decodeImage(file), (err: unknown) => err instanceof ImageDecodeError && err.code === 'E_READ' && err.path === file);
  });

  test('EXIF orientation 6: pixels land where a viewer shows them (upright F)', async () => {
    const shown = await decodeImage(IMAGES(F_ORIENT6));
    const stored = await decodeImage(IMAGES(F_ORIENT6), { keepExifOrientation: true });
    assert.equal(shown.source.orientation, 6);
    assert.deepEqual([stored.width, stored.height], [70, 50]);
    assert.deepEqual([shown.width, shown.height], [50, 70]);

    // Orientation 6 = rotate 90 degrees clockwise to display: shown[y][x] = stored[H-1-x][y].
    for (let y = 0; y < shown.height; y++) {
      for (let x = 0; x < shown.width; x++) {
        const s = ((stored.height - 1 - x) * stored.width + y) * 3;
        const d = (y * shown.width + x) * 3;
        for (let c = 0; c < 3; c++) assert.equal(shown.data[d + c], stored.data[s + c], `pixel (${x},${y})`);
      }
    }
    // The upright F: a vertical bar at x 10..19 (y 10..59), arms to x 39 at y 10..19 and 30..39.
    // Regions are shrunk by 2 px to stay clear of JPEG ringing at the edges.
    assert.ok(darkFraction(shown, 12, 12, 18, 58) > 0.95, 'vertical bar on the left');
    assert.ok(darkFraction(shown, 22, 12, 38, 18) > 0.95, 'top arm');
    assert.ok(darkFraction(shown, 22, 32, 38, 38) > 0.95, 'middle arm');
    assert.ok(darkFraction(shown, 22, 22, 38, 28) < 0.05, 'gap between the arms');
    assert.ok(darkFraction(shown, 22, 42, 48, 68) < 0.05, 'nothing right of the bar below the arms');
    assert.ok(darkFraction(shown, 0, 0, 25, 70) > 1.5 * darkFraction(shown, 25, 0, 50, 70), 'ink mass on the left');
    assert.ok(darkFraction(shown, 0, 0, 50, 35) > 1.3 * darkFraction(shown, 0, 35, 50, 70), 'ink mass at the top');
    // Stored layout: the bar lies along the bottom (F rotated 90 degrees counter-clockwise).
    assert.ok(darkFraction(stored, 12, 32, 58, 38) > 0.95, 'stored bar is horizontal at the bottom');
    assert.ok(darkFraction(stored, 0, 0, 70, 25) < darkFraction(stored, 0, 25, 70, 50), 'stored ink mass at the bottom');
  });

  test('CMYK JPEG matches its RGB twin (not inverted)', async () => {
    const rgb = await decodeImage(IMAGES('speakers_stage_rgb__go_video001.jpeg'));
    const cmyk = await decodeImage(IMAGES('speakers_stage_cmyk__go_video001.jpeg'));
    assert.equal(cmyk.source.space, 'cmyk');
    assert.equal(cmyk.source.channels, 4);
    assert.deepEqual([cmyk.width, cmyk.height], [rgb.width, rgb.height]);
    const r = pearson(cmyk.data, rgb.data);
    assert.ok(r > 0.9, `correlation with the RGB twin ${r}`);
    const inverted = cmyk.data.map((v) => 255 - v);
    assert.ok(pearson(inverted, rgb.data) < -0.9);
    assert.ok(meanAbsDiff(inverted, rgb.data) > 2 * meanAbsDiff(cmyk.data, rgb.data), 'closer to the twin than its inverse');
    // PIL's naive conversion (kerasCompat) is also the right way round.
    const pil = await decodeImagePil(IMAGES('speakers_stage_cmyk__go_video001.jpeg'));
    assert.ok(pearson(pil.data, rgb.data) > 0.9);
  });

  test('alpha is composited onto the background: white and black differ exactly where alpha < 255', async () => {
    // The daisies are translucent almost everywhere; the dog PNG is mostly opaque.
    let translucent = 0;
    let opaque = 0;
    for (const f of ['daisies_pink_alpha__libjxl_flower_alpha.png', 'dog_pekinese_like__opencv_chicky_512.png']) {
      const file = IMAGES(f);
      const onWhite = await decodeImage(file, { background: 'white' });
      const onBlack = await decodeImage(file, { background: '#000000' });
      assert.ok(onWhite.source.hasAlpha, f);
      const alpha = await sharp(file).extractChannel(3).raw().toBuffer();
      assert.equal(alpha.length, onWhite.width * onWhite.height);
      for (let p = 0; p < alpha.length; p++) {
        const i = p * 3;
        const diff = onWhite.data[i]! - onBlack.data[i]! + onWhite.data[i + 1]! - onBlack.data[i + 1]! + onWhite.data[i + 2]! - onBlack.data[i + 2]!;
        if (alpha[p] === 255) {
          opaque++;
          assert.equal(diff, 0, `${f}: opaque pixel ${p} depends on the background`);
        } else if (alpha[p]! < 250) {
          translucent++;
          assert.ok(diff > 0, `${f}: pixel ${p} with alpha ${alpha[p]} does not depend on the background`);
        }
      }
    }
    assert.ok(translucent > 1000 && opaque > 1000, `translucent ${translucent}, opaque ${opaque}`);
  });

  test('animated GIF: first frame only, 14 wide x 25 high', async () => {
    const file = IMAGES(GIF);
    const img = await decodeImage(file);
    assert.equal(img.source.pages, 24);
    assert.equal(img.width, 14);
    assert.equal(img.height, 25);
    const frame = async (page: number) =>
      sharp(file, { page, pages: 1 }).flatten({ background: 'white' }).toColourspace('srgb').raw().toBuffer();
    assert.deepEqual(Buffer.from(img.data), await frame(0));
    assert.notDeepEqual(Buffer.from(img.data), await frame(12));
  });

  test('16-bit PNG and TIFF come out 8-bit with their full range', async () => {
    for (const [f, minMax] of [
      ['room_interior_16bit__libjxl_hdr_room.png', 200],
      ['tulips_16bit_64px__libjxl_wesaturate.png', 40],
      ['speakers_stage_16bit__goximage_video001.tiff', 200],
    ] as const) {
      const img = await decodeImage(IMAGES(f));
      assert.equal(img.source.depth, 'ushort', f);
      assert.ok(img.data instanceof Uint8Array);
      const max = img.data.reduce((m, v) => (v > m ? v : m), 0);
      assert.ok(max >= minMax, `${f}: max ${max}, looks scaled down twice`);
    }
    // The 16-bit TIFF and the 8-bit JPEG are the same picture.
    const tiff = await decodeImage(IMAGES('speakers_stage_16bit__goximage_video001.tiff'));
    const jpeg = await decodeImage(IMAGES('speakers_stage_rgb__go_video001.jpeg'));
    assert.ok(pearson(tiff.data, jpeg.data) > 0.99);
    assert.ok(meanAbsDiff(tiff.data, jpeg.data) < 3);
  });

  test('grayscale JPEG and PNG become 3 equal channels', async () => {
    for (const f of ['cameraman_tripod_gray__skimage.png', 'pier_fog_gray__plasma_Grey.jpg']) {
      const img = await decodeImage(IMAGES(f));
      assert.equal(img.source.space, 'b-w');
      for (let i = 0; i < img.data.length; i += 3 * 997) {
        assert.equal(img.data[i], img.data[i + 1]);
        assert.equal(img.data[i], img.data[i + 2]);
      }
    }
  });

  test('decompression-bomb guard: the 5120x2880 image is refused under a small pixel limit', async () => {
    const file = IMAGES('forest_path_5120x2880__plasma_SafeLanding.jpg');
    await assert.rejects(decodeImage(file, { limitInputPixels: 1_000_000 }), (err: unknown) => {
      assert.ok(err instanceof ImageDecodeError);
      assert.equal(err.code, 'E_PIXEL_LIMIT');
      assert.equal(err.path, file);
      assert.match(err.message, /5120x2880/);
      assert.match(err.message, /limit of 1000000/);
      return true;
    });
    await assert.rejects(decodeImagePil(file, { limitInputPixels: 1_000_000 }), (err: unknown) => err instanceof ImageDecodeError && err.code === 'E_PIXEL_LIMIT');
    const ok = await decodeImage(file, { limitInputPixels: 5120 * 2880 });
    assert.deepEqual([ok.width, ok.height], [5120, 2880]);
  });

  test('an unparsable background colour is a RangeError, not a decode error', async () => {
    await assert.rejects(decodeImage(IMAGES(CAT), { background: 'not-a-colour' }), RangeError);
  });
});

describe('formats', () => {
  test('BMP gives a clear error when this sharp build cannot read it', async () => {
    const bmp = tinyBmp();
    assert.equal(sniffFormat(bmp), 'bmp');
    if (sharpDecodesBmp()) {
      const img = await decodeImage(bmp);
      assert.deepEqual(Array.from(img.data), [255, 0, 0, 0, 0, 255]);
    } else {
      await assert.rejects(decodeImage(bmp), (err: unknown) => {
        assert.ok(err instanceof ImageDecodeError);
        assert.equal(err.code, 'E_UNSUPPORTED');
        assert.match(err.message, /BMP is not supported by this sharp build/);
        return true;
      });
    }
  });

  test('AVIF decodes', async () => {
    const avif = await sharp({ create: { width: 16, height: 8, channels: 3, background: { r: 200, g: 30, b: 40 } } }).avif({ quality: 90 }).toBuffer();
    assert.equal(sniffFormat(avif), 'heif');
    const img = await decodeImage(avif);
    assert.deepEqual([img.width, img.height], [16, 8]);
    assert.ok(Math.abs(img.data[0]! - 200) < 12 && Math.abs(img.data[1]! - 30) < 12 && Math.abs(img.data[2]! - 40) < 12, `${img.data.subarray(0, 3)}`);
  });

  test('default extensions and magic numbers', { skip }, () => {
    assert.deepEqual([...DEFAULT_EXTENSIONS], ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'bmp', 'avif']);
    assert.ok(hasExtension('photo.JPG', DEFAULT_EXTENSIONS));
    assert.ok(!hasExtension('notes.txt', DEFAULT_EXTENSIONS));
    assert.ok(!hasExtension('jpg', DEFAULT_EXTENSIONS));
    assert.equal(sniffFormat(readFileSync(IMAGES(CAT))), 'png');
    assert.equal(sniffFormat(readFileSync(IMAGES('horse_black__wx.tif'))), 'tiff');
    assert.equal(sniffFormat(readFileSync(IMAGES('yellow_rose_lossy__goximage.webp'))), 'webp');
    assert.equal(sniffFormat(readFileSync(IMAGES(GIF))), 'gif');
    assert.equal(sniffFormat(readFileSync(IMAGES('apple_red__opencv.jpg'))), 'jpeg');
  });
});

describe('decodeImagePil (Keras load_img parity)', { skip }, () => {
  test('ignores EXIF orientation', async () => {
    const pil = await decodeImagePil(IMAGES(F_ORIENT6));
    const stored = await decodeImage(IMAGES(F_ORIENT6), { keepExifOrientation: true });
    assert.deepEqual([pil.width, pil.height], [70, 50]);
    assert.deepEqual(pil.data, stored.data);
  });

  test("CMYK uses Pillow's naive cmyk2rgb (values checked against Pillow 12.3)", async () => {
    const pil = await decodeImagePil(IMAGES('speakers_stage_cmyk__go_video001.jpeg'));
    const at = (x: number, y: number) => Array.from(pil.data.subarray((y * pil.width + x) * 3, (y * pil.width + x) * 3 + 3));
    // Image.open(f).convert('RGB').getpixel(...) with Pillow 12.3.0:
    assert.deepEqual(at(0, 0), [51, 1, 0]);
    assert.deepEqual(at(75, 50), [94, 20, 0]);
    assert.deepEqual(at(149, 102), [93, 31, 0]);
    assert.deepEqual(at(30, 80), [253, 236, 208]);
  });

  test('alpha is dropped, not composited (PIL RGBA -> RGB)', async () => {
    const file = IMAGES('yellow_rose_alpha__goximage.webp');
    const pil = await decodeImagePil(file);
    const rgba = await sharp(file).raw().toBuffer();
    let transparent = 0;
    for (let p = 0; p < pil.width * pil.height; p++) {
      for (let c = 0; c < 3; c++) assert.equal(pil.data[p * 3 + c], rgba[p * 4 + c]);
      if (rgba[p * 4 + 3] === 0) transparent++;
    }
    assert.ok(transparent > 100, `only ${transparent} transparent pixels`);
  });

  test('16-bit grayscale clips at 255 like PIL I;16 -> RGB', async () => {
    const values = new Uint16Array([0, 100, 255, 256, 1000, 65535]);
    const png = await sharp(values, { raw: { width: 6, height: 1, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    const pil = await decodeImagePil(png);
    assert.deepEqual(Array.from(pil.data.filter((_, i) => i % 3 === 0)), [0, 100, 255, 255, 255, 255]);
    // The viewer path scales instead (65535 -> 255, 256 -> 1).
    const shown = await decodeImage(png);
    assert.deepEqual(Array.from(shown.data.filter((_, i) => i % 3 === 0)), [0, 0, 0, 1, 3, 255]);
  });
});

describe('resizeImage', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  test("bilinear equals tf.image.resizeBilinear(halfPixelCenters) and differs from sharp's linear kernel", { skip }, async () => {
    const img = await decodeImage(IMAGES(CAT));
    const ours = resizeImage(img, { size: [224, 224], interpolation: 'bilinear' });
    const ref = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(img.data, [img.height, img.width, 3], 'int32'), [224, 224], false, true).dataSync());
    const dTf = maxAbsDiff(ours, ref);
    assert.ok(dTf < 1e-3, `max |ours - tf| = ${dTf}`);
    const viaSharp = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
      .resize(224, 224, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    const dSharp = maxAbsDiff(viaSharp, ref);
    assert.ok(dSharp > 5 && dSharp > 1000 * Math.max(dTf, 1e-4), `sharp linear max diff ${dSharp} is not clearly larger than ours ${dTf}`);
  });

  test('bilinear on a big downscale and a non-square target still equals TF', { skip }, async () => {
    const img = await decodeImage(IMAGES('samoyeds_two_under_tree__forensics.jpg'));
    const ours = resizeImage(img, { size: [150, 299] });
    const ref = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(img.data, [img.height, img.width, 3], 'int32'), [150, 299], false, true).dataSync());
    assert.ok(maxAbsDiff(ours, ref) < 1e-3);
  });

  test('center-crop = Keras smart_resize: largest centred window, then TF bilinear', { skip }, async () => {
    const img = await decodeImage(IMAGES(CAT)); // 451 x 300
    const plan = planResize(img.height, img.width, { size: [224, 224], mode: 'center-crop' });
    // crop_width = int(300 * 224 / 224) = 300, start = int((451 - 300) / 2) = 75
    assert.deepEqual(plan.src, { x: 75, y: 0, width: 300, height: 300 });
    const ours = resizeImage(img, { size: [224, 224], mode: 'center-crop' });
    const ref = tf.tidy(() => {
      const t = tf.tensor3d(img.data, [img.height, img.width, 3], 'int32');
      return tf.image.resizeBilinear(t.slice([0, 75, 0], [300, 300, 3]), [224, 224], false, true).dataSync();
    });
    assert.ok(maxAbsDiff(ours, ref) < 1e-3);
    // crop_pct shrinks the window around the same centre.
    const tight = planResize(img.height, img.width, { size: [224, 224], mode: 'center-crop', cropPct: 0.875 });
    assert.deepEqual(tight.src, { x: 94, y: 18, width: 263, height: 263 });
  });

  test('letterbox keeps the aspect ratio and pads with the background', { skip }, async () => {
    const img = await decodeImage(IMAGES(CAT)); // 451 x 300 -> 224 x 149 inside 224 x 224
    const plan = planResize(img.height, img.width, { size: [224, 224], mode: 'letterbox' });
    assert.deepEqual(plan.dst, { x: 0, y: 37, width: 224, height: 149 });
    const out = resizeImage(img, { size: [224, 224], mode: 'letterbox', background: [0, 0, 0] });
    const inner = resizeBilinearTF(img.data, img.height, img.width, 3, 149, 224);
    assert.equal(out.length, 224 * 224 * 3);
    for (let y = 0; y < 224; y++) {
      const row = out.subarray(y * 224 * 3, (y + 1) * 224 * 3);
      if (y < 37 || y >= 37 + 149) assert.ok(row.every((v) => v === 0), `row ${y} should be padding`);
      else assert.deepEqual(row, inner.subarray((y - 37) * 224 * 3, (y - 36) * 224 * 3));
    }
    const white = resizeImage(img, { size: [224, 224], mode: 'letterbox' });
    assert.equal(white[0], 255);
  });

  test("nearest matches PIL's mapping on the 14x25 GIF frame (hand-computed)", { skip }, async () => {
    const img = await decodeImagePil(IMAGES(GIF)); // width 14, height 25
    // Pillow: xo = in/out * 0.5, then xo += in/out per pixel, src = (int)xo.
    // Columns, 14 -> 5 (a0 = 2.8): xo = 1.4, 4.2, 7.0, 9.8, 12.6 in exact arithmetic, but the
    // accumulated doubles are 1.4, 4.1999..., 6.9999..., 9.7999..., 12.5999... -> 1, 4, 6, 9, 12.
    // (floor((x + 0.5) * 2.8) would give 7 for x = 2; Pillow 12.3 gives 6.)
    const cols = [1, 4, 6, 9, 12];
    // Rows, 25 -> 9 (a0 = 2.777...): 1.38, 4.16, 6.94, 9.72, 12.5, 15.27, 18.05, 20.83, 23.61.
    const rows = [1, 4, 6, 9, 12, 15, 18, 20, 23];
    const out = resizeImage(img, { size: [9, 5], interpolation: 'nearest' });
    const expected: number[] = [];
    for (const y of rows) for (const x of cols) expected.push(...img.data.subarray((y * 14 + x) * 3, (y * 14 + x) * 3 + 3));
    assert.deepEqual(Array.from(out), expected);
    // Same size is the identity.
    assert.deepEqual(resizeNearestPil(img.data, 25, 14, 3, 25, 14), Float32Array.from(img.data));
  });

  test('bicubic and lanczos are bit-exact with PIL (Pillow 12.3 outputs)', { skip }, async () => {
    const img = await decodeImagePil(IMAGES(GIF));
    const hex = (a: Float32Array) => Buffer.from(Uint8Array.from(a)).toString('hex');
    const sha = (a: Float32Array) => createHash('sha256').update(Uint8Array.from(a)).digest('hex');
    // Image.open(GIF).convert('RGB').resize((5, 9), Image.BICUBIC).tobytes().hex()
    assert.equal(
      hex(resizeImage(img, { size: [9, 5], interpolation: 'bicubic' })),
      'abc1b8aac0b6abbdb39c9f9592a399a1b3a5a4b8ae7d8b85565248a3ab9f8aa29690a59c6e786f5851478292867485797a8a7c696d6173655d51594f484a3e585b4b49493e5f4f462d312a242a24262c27383c365b5148292e294e5c544350484f4f454a3f3b63706c687c736f7d738776595a4d4fa59c9d879f95909a909185778e6f6eb47d7c',
    );
    assert.equal(
      hex(resizeImage(img, { size: [9, 5], interpolation: 'lanczos' })),
      'abc1b9aac0b7acbeb49d9f9692a399a0b2a2a8bdb2798983524d42a8b0a488a09591a89f6f786f564e448495897585797a8b7e696c6073645d50594f494a3e5a5d4d4a4a3e604f462d312a222722212723383c365c5149262b254f5d544351494b4c42493d3a63716e677c727482798a7859594b4eaca2a4859e959099908f84758e6d6db67b7b',
    );
    // Enlarging to 28 x 50: sha256 of PIL's tobytes().
    assert.equal(sha(resizeImage(img, { size: [50, 28], interpolation: 'bicubic' })), '3b527f648e49e9149681d880577004964ba9c42141d869d3762756be8997ff53');
    assert.equal(sha(resizeImage(img, { size: [50, 28], interpolation: 'lanczos' })), '4fa3818823493136c69ffab76e716d28aede96e91db9b11886f6984b77cab908');
    // PIL BOX at an exact 2x shrink: each pass averages 2 pixels with weights 2^21 + 2^21 and
    // rounds half up, so out = floor((floor((a + b + 1) / 2) + floor((c + d + 1) / 2) + 1) / 2).
    const box = resizePil(img.data, 25, 14, 3, 12, 7, 'box', { x: 0, y: 0, width: 14, height: 24 });
    const p = (y: number, x: number, c: number) => img.data[(y * 14 + x) * 3 + c]!;
    for (let y = 0; y < 12; y++) {
      for (let x = 0; x < 7; x++) {
        for (let c = 0; c < 3; c++) {
          const top = Math.floor((p(2 * y, 2 * x, c) + p(2 * y, 2 * x + 1, c) + 1) / 2);
          const bottom = Math.floor((p(2 * y + 1, 2 * x, c) + p(2 * y + 1, 2 * x + 1, c) + 1) / 2);
          assert.equal(box[(y * 7 + x) * 3 + c], Math.floor((top + bottom + 1) / 2), `(${x},${y},${c})`);
        }
      }
    }
  });

  test('area is the overlap-weighted mean (TF ResizeArea)', { skip }, async () => {
    const img = await decodeImage(IMAGES('apple_red__opencv.jpg')); // 512 x 512
    const half = resizeAreaTF(img.data, 512, 512, 3, 256, 256);
    for (const [y, x, c] of [[0, 0, 0], [100, 37, 1], [255, 255, 2]] as const) {
      const p = (yy: number, xx: number) => img.data[(yy * 512 + xx) * 3 + c]!;
      const mean = (p(2 * y, 2 * x) + p(2 * y, 2 * x + 1) + p(2 * y + 1, 2 * x) + p(2 * y + 1, 2 * x + 1)) / 4;
      assert.ok(Math.abs(half[(y * 256 + x) * 3 + c]! - mean) < 1e-4);
    }
    // TF's own example: in[4] -> out[3]; out[1] = (2/3 in[1] + 2/3 in[2]) * 3/4 = (in[1] + in[2]) / 2.
    const row = Float32Array.from([10, 0, 0, 40, 0, 0, 70, 0, 0, 100, 0, 0]);
    const out = resizeAreaTF(row, 1, 4, 3, 1, 3);
    assert.ok(Math.abs(out[0]! - (10 + 40 / 3) * 0.75) < 1e-4);
    assert.ok(Math.abs(out[3]! - 55) < 1e-4);
  });

  test('rejects bad sizes, modes and interpolations', () => {
    const img = { data: new Uint8Array(12), width: 2, height: 2 };
    assert.throws(() => resizeImage(img, { size: [0, 4] }), RangeError);
    assert.throws(() => resizeImage(img, { size: [4, 4], interpolation: 'cubic' as never }), /Valid values are: nearest, bilinear, bicubic, area, lanczos/);
    assert.throws(() => resizeImage(img, { size: [4, 4], mode: 'fit' as never }), /Valid modes are/);
    assert.throws(() => resizeImage({ ...img, data: new Uint8Array(5) }, { size: [4, 4] }), RangeError);
  });
});

describe('preprocess = Keras imagenet_utils.preprocess_input', () => {
  const px = Float32Array.from([10, 20, 30, 255, 0, 127.5]);
  const f = Math.fround;

  test('caffe: RGB -> BGR, minus the BGR mean, no scaling', () => {
    const out = preprocess(px, 'caffe');
    assert.deepEqual(Array.from(out.subarray(0, 3)), [f(30 - f(103.939)), f(20 - f(116.779)), f(10 - f(123.68))]);
    assert.ok(Math.abs(out[0]! - (30 - 103.939)) < 1e-5);
    assert.ok(Math.abs(out[1]! - (20 - 116.779)) < 1e-5);
    assert.ok(Math.abs(out[2]! - (10 - 123.68)) < 1e-5);
    assert.ok(Math.abs(out[3]! - (127.5 - 103.939)) < 1e-5); // second pixel's B came from its last channel
  });

  test('tf: x / 127.5 - 1', () => {
    const out = preprocess(px, 'tf');
    [10, 20, 30, 255, 0, 127.5].forEach((v, i) => assert.ok(Math.abs(out[i]! - (v / 127.5 - 1)) < 1e-6, `${i}`));
    assert.equal(out[3], 1);
    assert.equal(out[4], -1);
    assert.equal(out[5], 0);
  });

  test('torch: x / 255, minus mean, divided by std (RGB)', () => {
    const out = preprocess(px, 'torch');
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    [10, 20, 30, 255, 0, 127.5].forEach((v, i) => {
      const want = (v / 255 - mean[i % 3]!) / std[i % 3]!;
      assert.ok(Math.abs(out[i]! - want) < 1e-5, `${i}: ${out[i]} vs ${want}`);
    });
  });

  test('unit and raw', () => {
    assert.deepEqual(Array.from(preprocess(px, 'unit')), [10, 20, 30, 255, 0, 127.5].map((v) => f(v / 255)));
    const raw = preprocess(px, 'raw');
    assert.deepEqual(raw, px);
    assert.notEqual(raw, px, 'returns a copy');
  });

  test('in place (out = pixels) gives the same values as a new array, in every mode', () => {
    const real = new Float32Array(Array.from({ length: 3 * 64 }, (_, i) => (i * 37) % 256));
    for (const mode of PREPROCESS_MODES) {
      const copy = real.slice();
      const fresh = preprocess(real, mode);
      assert.equal(preprocess(copy, mode, copy), copy, mode);
      assert.deepEqual(copy, fresh, mode);
    }
    assert.throws(() => preprocess(px, 'tf', new Float32Array(3)), /out must hold as many values as pixels \(6\)/);
  });

  test('unknown modes throw', () => {
    assert.throws(() => preprocess(px, 'imagenet' as never), /Valid modes are: caffe, tf, torch, unit, raw/);
    assert.throws(() => preprocess(new Float32Array(4), 'tf'), RangeError);
  });
});

describe('loadImageForModel', { skip }, () => {
  test('default path = decodeImage -> resizeImage -> preprocess, with timings', async () => {
    const r = await loadImageForModel(IMAGES(CAT), { size: [224, 224], preprocess: 'tf' });
    assert.deepEqual(r.shape, [224, 224, 3]);
    assert.equal(r.input.length, 224 * 224 * 3);
    assert.deepEqual(r.applied, { resize: 'squash', interpolation: 'bilinear', preprocess: 'tf', kerasCompat: false });
    const manual = preprocess(resizeImage(await decodeImage(IMAGES(CAT)), { size: [224, 224] }), 'tf');
    assert.deepEqual(r.input, manual);
    for (const k of ['decodeMs', 'resizeMs', 'preprocessMs'] as const) assert.ok(r.timings[k] >= 0 && Number.isFinite(r.timings[k]), k);
    assert.ok(r.input.every((v) => v >= -1 && v <= 1));
  });

  test('kerasCompat = load_img(target_size): no EXIF rotation, PIL nearest, squash', async () => {
    const compat = await loadImageForModel(IMAGES(F_ORIENT6), {
      size: [35, 20],
      preprocess: 'raw',
      kerasCompat: true,
      interpolation: 'bilinear', // overridden
      resize: 'letterbox', // overridden
    });
    assert.deepEqual(compat.applied, { resize: 'squash', interpolation: 'nearest', preprocess: 'raw', kerasCompat: true });
    const stored = await decodeImagePil(IMAGES(F_ORIENT6));
    assert.deepEqual(compat.input, resizeNearestPil(stored.data, 50, 70, 3, 35, 20));
    const viewer = await loadImageForModel(IMAGES(F_ORIENT6), { size: [35, 20], preprocess: 'raw', interpolation: 'nearest' });
    assert.notDeepEqual(viewer.input, compat.input);
  });

  test('letterbox uses the background colour', async () => {
    const r = await loadImageForModel(IMAGES(CAT), { size: [224, 224], preprocess: 'raw', resize: 'letterbox', background: 'rgb(0, 128, 255)' });
    assert.deepEqual(Array.from(r.input.subarray(0, 3)), [0, 128, 255]);
  });
});
