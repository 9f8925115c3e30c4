// The ONNX path: export a tf.LayersModel to ONNX and run it on onnxruntime-node.
export { exportToOnnx, EXPORTER_VERSION, type ExportOptions, type ExportPrecision, type OnnxExport } from './export.js';
export { toFloat16, DEFAULT_FP16_POLICY, FP16_VERSION, type Fp16Policy } from './fp16.js';
export { OnnxSession, type OnnxSessionOptions, type OnnxOutput } from './session.js';
export { OnnxExportError } from './errors.js';
export { onnxAvailable, type OnnxAvailability } from './ort.js';
export { weightsHash, onnxCacheKey } from './hash.js';
