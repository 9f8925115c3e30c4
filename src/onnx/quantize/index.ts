// int8 post-training quantization of exported models (QDQ format for ONNX Runtime).
export { type Int8Source, type Int8Subject, type Int8Origin, type PreparedInt8, int8ModelFor, missingOutputError, makeInt8, calibrationFolder, int8CacheParts, int8ExportOutputs, asModelError } from './provider.js';
export { quantizeOnnx, describeInt8, encodeQuantized, DEFAULT_QUANTIZE_OPTIONS, QUANTIZER_VERSION, META, UnquantizableModelError, calibrationNote, type Int8Description, type QuantizeOptions, type QuantizeSummary } from './quantize.js';
export { evaluateInt8, type Int8Evaluation } from './evaluate.js';
export { inspectOptimized, INTEGER_KERNELS, type OptimizedGraph } from './kernels.js';
export { cachedInt8Models, int8CachePath, int8ModelsFor, writeSidecar, type Int8Sidecar } from './cache.js';
export { decodeFolder, openImageFolder, type ImageFolder } from './images.js';
export { readModel, writeModel, setMetadata, getMetadata } from './model.js';
export { RANGE_METHODS, type RangeMethod } from './ranges.js';
export { DEFAULT_POLICY, type QuantizePolicy } from './plan.js';
export { int8ForThisCpu, type Int8ForCpu } from './this-cpu.js';
export { thisCpu, describeCpu, schemeFor, cpuOfKind, probeKernels, type Int8Cpu } from './cpu.js';
export { schemeLabel, weightSites, schemeOf, type WeightScheme, type WeightEncoding } from './encoding.js';
export { CPU_KINDS, MLAS_KERNELS, kindFromFlags, type CpuKind } from './mlas.js';
