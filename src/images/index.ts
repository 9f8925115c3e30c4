// Public API of the image module: decode -> resize -> preprocess, and the pipeline
// that chains them (see each file's header for the Keras/PIL/TF parity notes).
export {
  decodeImage,
  decodeImagePil,
  ImageDecodeError,
  DEFAULT_LIMIT_INPUT_PIXELS,
  shrinkOnLoadSize,
  fastDecodeDenom,
  readSourceInfo,
  readCounts,
  type DecodedImage,
  type DecodeOptions,
  type PilDecodeOptions,
  type DecodeErrorCode,
  type SourceInfo,
} from './decode.js';
export {
  resizeImage,
  planResize,
  resizeBilinearTF,
  resizeNearestPil,
  resizeAreaTF,
  resizePil,
  pilNearestIndices,
  INTERPOLATIONS,
  RESIZE_MODES,
  type RgbImage,
  type ResizeOptions,
  type ResizePlan,
  type Box,
  type PilFilter,
} from './resize.js';
export { preprocess, PREPROCESS_MODES, CAFFE_MEAN_BGR, TORCH_MEAN_RGB, TORCH_STD_RGB } from './preprocess.js';
export { loadImageForModel, DECODE_MODES, FAST_DECODE_MARGIN, type DecodeMode, type ImageSettings, type LoadImageOptions, type LoadedImage } from './model-input.js';
export { DEFAULT_EXTENSIONS, sniffFormat, sharpDecodesBmp } from './formats.js';
export { parseColour } from './colour.js';
export { jpegDecoder, jpegTurboTakes, iccIsSrgb, iccSrgbError, SRGB_PROFILE_TOLERANCE, JPEG_DECODER_ENV } from './jpeg-turbo.js';
