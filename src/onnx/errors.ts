// The one error the exporter throws for a model it cannot translate. It names the layer
// and its class, so "which layer?" never needs a debugger.
import { BackbonesError } from '../errors.js';

export class OnnxExportError extends BackbonesError {
  /** The offending layer's name and class, when the problem is one layer. */
  readonly layerName?: string;
  readonly layerClass?: string;

  constructor(message: string, layer?: { name: string; className: string }) {
    const where = layer ? `layer '${layer.name}' (class ${layer.className}): ` : '';
    super('E_MODEL', `ONNX export: ${where}${message}`);
    this.name = 'OnnxExportError';
    this.layerName = layer?.name;
    this.layerClass = layer?.className;
  }
}
