// int8 post-training quantization of exported models (QDQ format for ONNX Runtime).
export { type Int8Source, type Int8Subject, int8ModelFor, makeInt8, calibrationFolder, int8CacheParts, int8ExportOutputs, asModelError } from './provider.js';
export { quantizeOnnx, describeInt8, encodeQuantized, DEFAULT_QUANTIZE_OPTIONS, QUANTIZER_VERSION, META, UnquantizableModelError, type QuantizeOptions, type QuantizeSummary } from './quantize.js';
export { evaluateInt8, type Int8Evaluation } from './evaluate.js';
export { inspectOptimized, INTEGER_KERNELS, type OptimizedGraph } from './kernels.js';
export { cachedInt8Models, int8CachePath, int8ModelsFor, writeSidecar, type Int8Sidecar } from './cache.js';
export { decodeFolder, openImageFolder, type ImageFolder } from './images.js';
export { readModel, writeModel, setMetadata, getMetadata } from './model.js';
export { RANGE_METHODS, type RangeMethod } from './ranges.js';
export { DEFAULT_POLICY, type QuantizePolicy } from './plan.js';
