// The ONNX path: export a tf.LayersModel to ONNX and run it on onnxruntime-node.
export { exportToOnnx, EXPORTER_VERSION, type ExportOptions, type OnnxExport } from './export.js';
export { OnnxEngine, type OnnxEngineOptions, type OnnxOutput } from './engine.js';
export { OnnxExportError } from './errors.js';
export { onnxAvailable, type OnnxAvailability } from './ort.js';
export { weightsHash, onnxCacheKey } from './hash.js';
