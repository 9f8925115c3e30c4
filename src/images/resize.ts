// Resizing: HWC uint8 RGB -> the model's [height, width], float32 HWC in 0..255.
//
// Geometry (`mode`) and resampling (`interpolation`) are independent:
//   squash       the whole image is stretched to [h, w] (Keras `image.load_img(target_size)`,
//                `tf.image.resize`, the default everywhere in keras.applications examples).
//   center-crop  the largest centred window with the target's aspect ratio is cut out,
//                then resized; integer window exactly like Keras' `smart_resize`
//                (keras/src/utils/image_utils.py: crop_height = int(width * target_height
//                / target_width), clipped to [1, height]; start = int((height - crop) / 2)).
//                `cropPct` < 1 shrinks that window around its centre, like timm's crop_pct
//                (timm resizes to size / crop_pct, then crops `size`; cropping first and
//                resizing once selects the same region to within a pixel).
//   letterbox    the whole image fits inside [h, w] keeping its aspect ratio; the rest is
//                filled with the background colour, image centred (offset rounds down).
//
// Interpolation, and what each one is:
//   bilinear  own code: exactly TensorFlow's ResizeBilinear with half_pixel_centers=True,
//             align_corners=False, no antialiasing: what `tf.image.resize(method='bilinear')`
//             does (tensorflow/python/ops/image_ops_impl.py resize_images_v2 calls
//             gen_image_ops.resize_bilinear(..., half_pixel_centers=True)), and so Keras'
//             Resizing layer and smart_resize. sharp's 'linear' kernel is a different
//             filter: libvips widens it by the shrink factor (antialiasing, like PIL), so
//             when downscaling it averages many more source pixels and cannot match TF.
//   nearest   own code: exactly PIL's NEAREST as used by Keras' `load_img(target_size)`
//             (its default interpolation). Pillow src/_imaging.c _resize():
//             a[0] = (box[2] - box[0]) / xsize, a[2] = box[0]; src/libImaging/Geometry.c
//             ImagingScaleAffine(): xo = a[2] + a[0] * 0.5; per pixel xin = COORD(xo);
//             xo += a[0]  -> src = floor((dst + 0.5) * in / out), accumulated in double as
//             Pillow does (so rounding at exact integers is the same too).
//   area      own code: TensorFlow's ResizeArea (`tf.image.resize(method='area')`), the
//             average of the source pixels under each output pixel weighted by their
//             overlap (the same algorithm as OpenCV INTER_AREA when shrinking). At an
//             integer shrink factor PIL BOX averages the same pixels but rounds to uint8
//             after each pass (within 1 level); otherwise PIL BOX weights by pixel centres.
//   bicubic   own code: exactly PIL BICUBIC (Keras load_img(interpolation='bicubic'),
//   lanczos   timm/torchvision on PIL images) and PIL LANCZOS, i.e. Pillow
//             src/libImaging/Resample.c: separable, antialiased (kernel widened by the
//             shrink factor), horizontal pass then vertical, each rounded to uint8 with
//             22-bit fixed-point coefficients (PRECISION_BITS = 32 - 8 - 2). Bicubic is
//             Keys a = -0.5, lanczos is a = 3. These are NOT TF's bicubic / lanczos3
//             (which do not antialias when shrinking by default).
//             sharp's 'cubic'/'lanczos3' kernels were measured against Pillow 12.3 and
//             rejected: within 2 levels when shrinking 451x300 -> 224, but up to 100+
//             levels off when enlarging (150x103 -> 224), so they match neither PIL nor TF.
// bilinear/area keep float precision; nearest/bicubic/lanczos give integers, as PIL does.

/** HWC RGB 8-bit pixels (what decodeImage returns). */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface ResizeOptions {
  /** Target [height, width]. */
  size: [number, number];
  /** Default 'squash'. */
  mode?: ResizeMode;
  /** Default 'bilinear'. */
  interpolation?: Interpolation;
  /** Letterbox fill, RGB 0..255. Default white [255, 255, 255]. */
  background?: [number, number, number];
  /** center-crop only: fraction of the largest centred window to keep, (0, 1]. Default 1. */
  cropPct?: number;
}

/** Integer rectangle in pixels. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where the source region goes: crop `src` from the image, resize it to `dst` inside the output. */
export interface ResizePlan {
  src: Box;
  dst: Box;
  outHeight: number;
  outWidth: number;
}

export const INTERPOLATIONS = ['nearest', 'bilinear', 'bicubic', 'area', 'lanczos'] as const;
export type Interpolation = (typeof INTERPOLATIONS)[number];
export const RESIZE_MODES = ['squash', 'center-crop', 'letterbox'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];

/** Computes the source crop and destination box for a resize mode (pure geometry). */
export function planResize(srcHeight: number, srcWidth: number, opts: ResizeOptions): ResizePlan {
  const [th, tw] = opts.size;
  checkSize(th, tw);
  const mode = opts.mode ?? 'squash';
  const full: Box = { x: 0, y: 0, width: srcWidth, height: srcHeight };
  const out: Box = { x: 0, y: 0, width: tw, height: th };
  switch (mode) {
    case 'squash':
      return { src: full, dst: out, outHeight: th, outWidth: tw };
    case 'center-crop': {
      const pct = opts.cropPct ?? 1;
      if (!(pct > 0 && pct <= 1)) throw new RangeError(`cropPct must be in (0, 1]. Received: cropPct=${pct}`);
      // Keras smart_resize: int(float(width * target_height) / target_width), clipped.
      let ch = Math.max(Math.min(srcHeight, Math.trunc((srcWidth * th) / tw)), 1);
      let cw = Math.max(Math.min(srcWidth, Math.trunc((srcHeight * tw) / th)), 1);
      if (pct < 1) {
        ch = Math.max(1, Math.round(ch * pct));
        cw = Math.max(1, Math.round(cw * pct));
      }
      const y = Math.trunc((srcHeight - ch) / 2);
      const x = Math.trunc((srcWidth - cw) / 2);
      return { src: { x, y, width: cw, height: ch }, dst: out, outHeight: th, outWidth: tw };
    }
    case 'letterbox': {
      const scale = Math.min(th / srcHeight, tw / srcWidth);
      const h = Math.min(th, Math.max(1, Math.round(srcHeight * scale)));
      const w = Math.min(tw, Math.max(1, Math.round(srcWidth * scale)));
      const dst = { x: Math.floor((tw - w) / 2), y: Math.floor((th - h) / 2), width: w, height: h };
      return { src: full, dst, outHeight: th, outWidth: tw };
    }
    default:
      throw new RangeError(`Unknown resize mode. Valid modes are: ${RESIZE_MODES.join(', ')}. Received: mode=${String(mode)}`);
  }
}

/** Resizes an RGB image to opts.size; returns float32 HWC in 0..255. */
export function resizeImage(img: RgbImage, opts: ResizeOptions): Float32Array {
  const interpolation = opts.interpolation ?? 'bilinear';
  if (!INTERPOLATIONS.includes(interpolation)) {
    throw new RangeError(`Unknown interpolation. Valid values are: ${INTERPOLATIONS.join(', ')}. Received: interpolation=${String(interpolation)}`);
  }
  checkImage(img);
  const plan = planResize(img.height, img.width, opts);
  const C = 3;
  const { src, dst } = plan;

  let region: Float32Array;
  switch (interpolation) {
    case 'bilinear':
      region = resizeBilinearTF(img.data, img.height, img.width, C, dst.height, dst.width, src);
      break;
    case 'nearest':
      region = resizeNearestPil(img.data, img.height, img.width, C, dst.height, dst.width, src);
      break;
    case 'area':
      region = resizeAreaTF(img.data, img.height, img.width, C, dst.height, dst.width, src);
      break;
    case 'bicubic':
    case 'lanczos':
      region = resizePil(img.data, img.height, img.width, C, dst.height, dst.width, interpolation, src);
      break;
  }

  if (dst.x === 0 && dst.y === 0 && dst.width === plan.outWidth && dst.height === plan.outHeight) return region;
  // Letterbox: paste the region onto a canvas of the background colour.
  const out = new Float32Array(plan.outHeight * plan.outWidth * C);
  const bg = opts.background ?? [255, 255, 255];
  for (let i = 0; i < out.length; i += C) {
    out[i] = bg[0];
    out[i + 1] = bg[1];
    out[i + 2] = bg[2];
  }
  const rowLen = dst.width * C;
  for (let y = 0; y < dst.height; y++) {
    out.set(region.subarray(y * rowLen, (y + 1) * rowLen), ((dst.y + y) * plan.outWidth + dst.x) * C);
  }
  return out;
}

/**
 * TensorFlow ResizeBilinear, half_pixel_centers=True, align_corners=False, no antialias
 * (tensorflow/core/kernels/image/resize_bilinear_op.cc compute_interpolation_weights with
 * HalfPixelScaler: in = (out + 0.5) * scale - 0.5, lower = max(floor(in), 0),
 * upper = min(ceil(in), in_size - 1), lerp = in - floor(in); then
 * top + (bottom - top) * y_lerp). `box` selects a crop of the source that is treated as
 * the whole input (like slicing before tf.image.resize).
 */
export function resizeBilinearTF(
  src: ArrayLike<number>,
  srcHeight: number,
  srcWidth: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  box: Box = { x: 0, y: 0, width: srcWidth, height: srcHeight },
): Float32Array {
  checkBox(box, srcHeight, srcWidth);
  checkSize(outHeight, outWidth);
  const ys = halfPixelWeights(box.height, outHeight);
  const xs = halfPixelWeights(box.width, outWidth);
  const out = new Float32Array(outHeight * outWidth * channels);
  const rowStride = srcWidth * channels;
  let o = 0;
  for (let y = 0; y < outHeight; y++) {
    const top = (box.y + ys.lower[y]!) * rowStride;
    const bot = (box.y + ys.upper[y]!) * rowStride;
    const yl = ys.lerp[y]!;
    for (let x = 0; x < outWidth; x++) {
      const left = (box.x + xs.lower[x]!) * channels;
      const right = (box.x + xs.upper[x]!) * channels;
      const xl = xs.lerp[x]!;
      for (let c = 0; c < channels; c++) {
        const tl = src[top + left + c]!;
        const tr = src[top + right + c]!;
        const bl = src[bot + left + c]!;
        const br = src[bot + right + c]!;
        const t = tl + (tr - tl) * xl;
        const b = bl + (br - bl) * xl;
        out[o++] = t + (b - t) * yl;
      }
    }
  }
  return out;
}

function halfPixelWeights(inSize: number, outSize: number) {
  const scale = inSize / outSize;
  const lower = new Int32Array(outSize);
  const upper = new Int32Array(outSize);
  const lerp = new Float64Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const v = (i + 0.5) * scale - 0.5;
    const f = Math.floor(v);
    lower[i] = Math.max(f, 0);
    upper[i] = Math.min(Math.ceil(v), inSize - 1);
    lerp[i] = v - f;
  }
  return { lower, upper, lerp };
}

/** Pillow NEAREST (see the header comment for the source lines it reproduces). */
export function resizeNearestPil(
  src: ArrayLike<number>,
  srcHeight: number,
  srcWidth: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  box: Box = { x: 0, y: 0, width: srcWidth, height: srcHeight },
): Float32Array {
  checkBox(box, srcHeight, srcWidth);
  checkSize(outHeight, outWidth);
  const xin = pilNearestIndices(box.x, box.width, outWidth);
  const yin = pilNearestIndices(box.y, box.height, outHeight);
  const out = new Float32Array(outHeight * outWidth * channels);
  let o = 0;
  for (let y = 0; y < outHeight; y++) {
    const row = yin[y]! * srcWidth;
    for (let x = 0; x < outWidth; x++) {
      const s = (row + xin[x]!) * channels;
      for (let c = 0; c < channels; c++) out[o++] = src[s + c]!;
    }
  }
  return out;
}

/** Source index for each output index, as Pillow's ImagingScaleAffine computes it. */
export function pilNearestIndices(start: number, inSize: number, outSize: number): Int32Array {
  const a0 = inSize / outSize; // (double)(box[2] - box[0]) / xsize
  let xo = start + a0 * 0.5; // a[2] + a[0] * 0.5
  const idx = new Int32Array(outSize);
  for (let x = 0; x < outSize; x++) {
    // COORD(v) = v < 0 ? -1 : (int)v. Coordinates stay inside the box for NEAREST resize;
    // clamp defensively instead of leaving Pillow's unfilled (black) pixel.
    idx[x] = Math.min(start + inSize - 1, Math.max(start, Math.trunc(xo)));
    xo += a0;
  }
  return idx;
}

/**
 * TensorFlow ResizeArea (tensorflow/core/kernels/image/resize_area_op.cc): each output
 * pixel covers [y * scale, (y + 1) * scale) x [x * scale, (x + 1) * scale) of the source;
 * the result is the overlap-weighted mean of the source pixels in that rectangle.
 */
export function resizeAreaTF(
  src: ArrayLike<number>,
  srcHeight: number,
  srcWidth: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  box: Box = { x: 0, y: 0, width: srcWidth, height: srcHeight },
): Float32Array {
  checkBox(box, srcHeight, srcWidth);
  checkSize(outHeight, outWidth);
  const ys = areaWeights(box.height, outHeight);
  const xs = areaWeights(box.width, outWidth);
  const out = new Float32Array(outHeight * outWidth * channels);
  const acc = new Float64Array(channels);
  const norm = 1 / ((box.height / outHeight) * (box.width / outWidth));
  let o = 0;
  for (let y = 0; y < outHeight; y++) {
    const y0 = ys.start[y]!;
    const yw = ys.weights[y]!;
    for (let x = 0; x < outWidth; x++) {
      const x0 = xs.start[x]!;
      const xw = xs.weights[x]!;
      acc.fill(0);
      for (let j = 0; j < yw.length; j++) {
        const row = (box.y + y0 + j) * srcWidth;
        for (let i = 0; i < xw.length; i++) {
          const w = yw[j]! * xw[i]!;
          const s = (row + box.x + x0 + i) * channels;
          for (let c = 0; c < channels; c++) acc[c]! += w * src[s + c]!;
        }
      }
      for (let c = 0; c < channels; c++) out[o++] = acc[c]! * norm;
    }
  }
  return out;
}

function areaWeights(inSize: number, outSize: number) {
  const scale = inSize / outSize;
  const start = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  for (let i = 0; i < outSize; i++) {
    const lo = i * scale;
    const hi = (i + 1) * scale;
    const first = Math.floor(lo);
    const last = Math.min(Math.ceil(hi), inSize); // exclusive
    const w = new Float64Array(Math.max(1, last - first));
    for (let k = first; k < last; k++) w[k - first] = Math.min(k + 1, hi) - Math.max(k, lo);
    start[i] = first;
    weights.push(w);
  }
  return { start, weights };
}

export type PilFilter = 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

// Pillow src/libImaging/Resample.c filters and their support radius.
const PIL_FILTERS: Record<PilFilter, { support: number; fn: (x: number) => number }> = {
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, fn: (x) => (Math.abs(x) < 1 ? 1 - Math.abs(x) : 0) },
  hamming: {
    support: 1,
    fn: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      // (0.54f + 0.46f * cos(x)): float constants promoted to double, as in C.
      return (Math.sin(x) / x) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(x));
    },
  },
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

const PRECISION_BITS = 32 - 8 - 2;

/** Pillow precompute_coeffs() + normalize_coeffs_8bpc(): fixed-point taps per output pixel. */
function pilCoeffs(inSize: number, in0: number, in1: number, outSize: number, filter: PilFilter) {
  const { support: baseSupport, fn } = PIL_FILTERS[filter];
  const scale = (in1 - in0) / outSize;
  const filterscale = Math.max(scale, 1);
  const support = baseSupport * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Int32Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0); // (int)(... + 0.5), "Round the value"
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x]! / ww : k[x]!;
      kk[xx * ksize + x] = Math.trunc(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { kk, bounds, ksize };
}

/** clip8(): (ss >> PRECISION_BITS) clamped to 0..255 (Pillow's _clip8_lookups table). */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Pillow's Image.resize(size, filter, box) for 8-bit images (ImagingResampleInner):
 * horizontal pass over the rows the vertical pass needs, rounded to uint8, then the
 * vertical pass. Passes are skipped when that axis keeps its size and box, as in Pillow.
 */
export function resizePil(
  src: ArrayLike<number>,
  srcHeight: number,
  srcWidth: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  filter: PilFilter,
  box: Box = { x: 0, y: 0, width: srcWidth, height: srcHeight },
): Float32Array {
  checkBox(box, srcHeight, srcWidth);
  checkSize(outHeight, outWidth);
  const [bx0, by0, bx1, by1] = [box.x, box.y, box.x + box.width, box.y + box.height];
  // Pillow's own test: need_horizontal = xsize != imIn->xsize || box[0] || box[2] != xsize.
  const needH = outWidth !== srcWidth || bx0 !== 0 || bx1 !== outWidth;
  const needV = outHeight !== srcHeight || by0 !== 0 || by1 !== outHeight;
  const vert = pilCoeffs(srcHeight, by0, by1, outHeight, filter);
  const yFirst = vert.bounds[0]!;
  const yLast = vert.bounds[outHeight * 2 - 2]! + vert.bounds[outHeight * 2 - 1]!;

  let cur: ArrayLike<number> = src;
  let curW = srcWidth;
  let rowOffset = 0; // row of `cur` that corresponds to source row yFirst (vertical bounds are shifted)
  if (needH) {
    const hor = pilCoeffs(srcWidth, bx0, bx1, outWidth, filter);
    const rows = yLast - yFirst;
    const tmp = new Uint8Array(rows * outWidth * channels);
    for (let y = 0; y < rows; y++) {
      const inRow = (y + yFirst) * srcWidth * channels;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = hor.bounds[xx * 2]!;
        const xmax = hor.bounds[xx * 2 + 1]!;
        const kOff = xx * hor.ksize;
        for (let c = 0; c < channels; c++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < xmax; x++) ss += src[inRow + (x + xmin) * channels + c]! * hor.kk[kOff + x]!;
          tmp[(y * outWidth + xx) * channels + c] = clip8(ss);
        }
      }
    }
    cur = tmp;
    curW = outWidth;
    rowOffset = yFirst;
  }
  if (!needV) {
    // Pillow copies the (horizontally resampled) rows as they are.
    const out = new Float32Array(outHeight * curW * channels);
    const from = (by0 - rowOffset) * curW * channels;
    for (let i = 0; i < out.length; i++) out[i] = cur[from + i]!;
    return out;
  }
  const out = new Float32Array(outHeight * curW * channels);
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = vert.bounds[yy * 2]! - rowOffset;
    const ymax = vert.bounds[yy * 2 + 1]!;
    const kOff = yy * vert.ksize;
    for (let xx = 0; xx < curW; xx++) {
      for (let c = 0; c < channels; c++) {
        let ss = 1 << (PRECISION_BITS - 1);
        for (let y = 0; y < ymax; y++) ss += cur[((y + ymin) * curW + xx) * channels + c]! * vert.kk[kOff + y]!;
        out[(yy * curW + xx) * channels + c] = clip8(ss);
      }
    }
  }
  return out;
}

function checkSize(h: number, w: number): void {
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) {
    throw new RangeError(`Target size must be two positive integers [height, width]. Received: size=[${h}, ${w}]`);
  }
}

function checkImage(img: RgbImage): void {
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(`Expected ${img.width}x${img.height}x3 = ${img.width * img.height * 3} bytes of HWC RGB. Received: ${img.data.length}`);
  }
}

function checkBox(box: Box, h: number, w: number): void {
  if (box.x < 0 || box.y < 0 || box.width < 1 || box.height < 1 || box.x + box.width > w || box.y + box.height > h) {
    throw new RangeError(`Crop box ${JSON.stringify(box)} is outside the ${w}x${h} image`);
  }
}
