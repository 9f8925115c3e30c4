// --precision beyond int8's own rules (int8.ts): a precision that needs a GPU engine or an
// adapter feature (fp16) is refused with the reason, before anything starts where the
// request alone says so, and once the engine has started otherwise.
import { BackbonesError } from '../errors.js';
import { GPU_PROVIDERS } from '../engines/devices.js';
import { engineRequest, resolveRequest, type EngineOptions } from '../engines/request.js';
import type { Engine } from '../engines/types.js';
import { precisionRefusal, precisionRequestRefusal, type Precision } from '../onnx/precision.js';
import { resolvePrecision, type PrecisionOptions } from './int8.js';

/** Before any engine starts: --precision fp16 with --device cpu, a CPU-only backend or CPU-only providers. */
export function checkPrecisionRequest(o: PrecisionOptions & EngineOptions, precision: Precision = resolvePrecision(o)): void {
  const r = resolveRequest(engineRequest(o));
  const why = precisionRequestRefusal(precision, r, GPU_PROVIDERS);
  if (why) throw new BackbonesError('E_USAGE', `${why}.`);
}

/** Once the engine runs: whether it can compute at this precision (int8 is int8.ts's). */
export function checkPrecisionOnEngine(precision: Precision, engine: Engine): void {
  if (precision === 'fp32' || precision === 'int8') return;
  const why = precisionRefusal(precision, engine.choice);
  if (why) throw new BackbonesError('E_USAGE', `${why}.`);
}
