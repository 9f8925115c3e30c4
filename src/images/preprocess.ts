// Pixel normalisation, exactly Keras' `imagenet_utils.preprocess_input`
// (keras/src/applications/imagenet_utils.py, _preprocess_numpy_input), plus two modes
// Keras has no name for: 'unit' (x / 255, what TF-Hub and nsfwjs models take) and 'raw'.
//
//   caffe  x = x[..., ::-1] (RGB -> BGR); x -= [103.939, 116.779, 123.68] (BGR order);
//          no scaling. VGG16/19, ResNet50 (v1).
//   tf     x /= 127.5; x -= 1.  -> [-1, 1]. MobileNet v1/v2, InceptionV3, Xception.
//   torch  x /= 255.; x -= [0.485, 0.456, 0.406]; x /= [0.229, 0.224, 0.225] (RGB).
//          DenseNet.
//
// Keras does each step on float32 arrays with Python-float constants (NumPy casts the
// constant to float32), so every step here is rounded to float32 with Math.fround: the
// results are bit-identical to Keras' NumPy path, not merely close.

/** Keras `preprocess_input` modes, plus `unit` (x/255) and `raw` (0..255 unchanged). */
export const PREPROCESS_MODES = ['caffe', 'tf', 'torch', 'unit', 'raw'] as const;
export type PreprocessMode = (typeof PREPROCESS_MODES)[number];

const f = Math.fround;

/** imagenet_utils.py: mean = [103.939, 116.779, 123.68] (applied after the BGR flip). */
export const CAFFE_MEAN_BGR: readonly [number, number, number] = [103.939, 116.779, 123.68];
/** imagenet_utils.py, torch mode. */
export const TORCH_MEAN_RGB: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const TORCH_STD_RGB: readonly [number, number, number] = [0.229, 0.224, 0.225];

/**
 * Normalises HWC RGB pixels in 0..255 (any number of pixels, 3 channels) for a model.
 * Returns a new array, or writes into `out` (which may be `pixels` itself: each value is
 * read before it is written); 'caffe' output is in BGR channel order, like Keras.
 */
export function preprocess(pixels: Float32Array, mode: PreprocessMode, out: Float32Array = new Float32Array(pixels.length)): Float32Array {
  if (pixels.length % 3 !== 0) {
    throw new RangeError(`Expected HWC RGB pixels (length a multiple of 3). Received: length=${pixels.length}`);
  }
  if (out.length !== pixels.length) throw new RangeError(`out must hold as many values as pixels (${pixels.length}). Received: ${out.length}`);
  switch (mode) {
    case 'caffe': {
      const [mb, mg, mr] = CAFFE_MEAN_BGR.map(f) as [number, number, number];
      for (let i = 0; i < pixels.length; i += 3) {
        const r = pixels[i]!;
        const g = pixels[i + 1]!;
        const b = pixels[i + 2]!;
        out[i] = b - mb;
        out[i + 1] = g - mg;
        out[i + 2] = r - mr;
      }
      return out;
    }
    case 'tf': {
      const d = f(127.5);
      for (let i = 0; i < pixels.length; i++) out[i] = f(pixels[i]! / d) - 1;
      return out;
    }
    case 'torch': {
      const d = f(255);
      const mean = TORCH_MEAN_RGB.map(f);
      const std = TORCH_STD_RGB.map(f);
      for (let i = 0; i < pixels.length; i++) {
        const c = i % 3;
        out[i] = f(f(pixels[i]! / d) - mean[c]!) / std[c]!;
      }
      return out;
    }
    case 'unit': {
      const d = f(255);
      for (let i = 0; i < pixels.length; i++) out[i] = pixels[i]! / d;
      return out;
    }
    case 'raw':
      if (out !== pixels) out.set(pixels);
      return out;
    default:
      throw new RangeError(`Unknown preprocess mode. Valid modes are: ${PREPROCESS_MODES.join(', ')}. Received: mode=${String(mode)}`);
  }
}
