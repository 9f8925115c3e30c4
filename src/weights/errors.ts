// The one error type of the weights module: a bad or missing weights file, a failed
// download, or weights that do not fit the model. Messages are one or two sentences
// that say what went wrong and, where there is one, how to fix it.
import { BackbonesError } from '../errors.js';

export class WeightsError extends BackbonesError {
  override name = 'WeightsError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('E_WEIGHTS', message, options);
  }
}
