// --precision int8 for a Backbone: which int8 model its ONNX engine runs, and what
// happens when there is none (explicit onnx backend: an error; auto: fp32 with a warning).
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import type { tf } from '../tf.js';
import type { Engine } from '../engines/types.js';
import type { PreprocessMode } from '../images/preprocess.js';
import type { Interpolation, ResizeMode } from '../images/resize.js';
import type { Precision } from '../onnx/precision.js';

export interface Int8Settings {
  calibrate?: string;
  int8Model?: string;
}

/** The precision options of a model selection (--precision, --calibrate, --int8-model). */
export interface PrecisionOptions extends Int8Settings {
  precision?: Precision;
}

/** --calibrate / --int8-model alone mean int8; with an explicit fp32 they are a usage error. */
export function resolvePrecision(o: PrecisionOptions): Precision {
  const int8Source = o.calibrate !== undefined || o.int8Model !== undefined;
  if (o.precision !== undefined && o.precision !== 'int8' && int8Source) throw new BackbonesError('E_USAGE', `--calibrate and --int8-model are for --precision int8, not ${o.precision}.`);
  return o.precision ?? (int8Source ? 'int8' : 'fp32');
}

/**
 * --precision int8: where the int8 model comes from, when the engine is ONNX Runtime. On
 * another engine it is an error, or fp32 with a warning under --backend auto.
 */
export function int8Settings(o: PrecisionOptions, engine: Engine): Int8Settings | undefined {
  if (resolvePrecision(o) !== 'int8') return undefined;
  const choice = engine.choice;
  if (choice.backend !== 'onnx') {
    int8WithoutOnnx(choice.requested === 'auto', choice.backend);
    return undefined;
  }
  return { calibrate: o.calibrate, int8Model: o.int8Model };
}

/** --precision int8 when the engine is not ONNX Runtime. */
function int8WithoutOnnx(auto: boolean, backend: string): void {
  const why = `--precision int8 runs on the onnx engine, and ${backend} was chosen`;
  if (!auto) throw new BackbonesError('E_USAGE', `${why}; use --backend onnx (or auto).`);
  log.warn(`${why}: running fp32.`);
}

/** What int8 needs to know of a model (a Backbone's info has it; backbone.ts imports this file). */
export interface Int8Subject {
  name: string;
  featureLayer: string | null;
  inputSize: [number, number];
  preprocess: PreprocessMode;
  resize: ResizeMode;
  interpolation: Interpolation;
  weights: { description: string };
}

/**
 * The int8 model bytes for an engine exposing `outputs`, or undefined to run fp32
 * (only when `fallback` is set: then the reason is logged as a warning).
 */
export async function int8ModelBytes(
  info: Int8Subject,
  model: tf.LayersModel,
  settings: Int8Settings & { cacheDir?: string; threads: number },
  outputs: string[],
  fallback: boolean,
): Promise<Uint8Array | undefined> {
  const { int8ModelFor } = await import('../onnx/quantize/index.js');
  const subject = {
    model,
    name: info.name,
    featureLayer: info.featureLayer,
    images: { size: info.inputSize, preprocess: info.preprocess, resize: info.resize, interpolation: info.interpolation },
    weightsDescription: info.weights.description,
  };
  try {
    const prepared = await int8ModelFor(subject, { ...settings }, outputs, settings.threads);
    log.debug(`${info.name}: int8 model ${prepared.made ? 'made and cached at' : 'from'} ${prepared.source}`);
    return prepared.bytes;
  } catch (e) {
    if (fallback && e instanceof BackbonesError && e.code === 'E_MODEL') {
      log.warn(`${info.name} runs in fp32: ${e.message}`);
      return undefined;
    }
    throw e;
  }
}
