// NaN or Infinity out of a model means damaged weights (a corrupted or truncated file),
// never a bad image. Every caller (classify/extract runs, queue workers, serve, the
// library) stops on it with the same sentence instead of writing NaN (JSON's null) as
// a result.
import { BackbonesError } from '../errors.js';

/** Throws E_MODEL when any value is NaN or ±Infinity; `what` names the input (a file, "the image", a batch). */
export function assertFinite(model: string, what: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new BackbonesError(
        'E_MODEL',
        `${model} produced non-finite outputs (NaN or Infinity) for ${what}: its weights are likely damaged (a corrupted or truncated file); download them again or check --weights.`,
      );
    }
  }
}

/** The numbers of one result: top-k probabilities, or a feature vector. */
export function resultValues(result: { prob: number }[] | { vector: ArrayLike<number> }): ArrayLike<number> {
  return Array.isArray(result) ? result.map((p) => p.prob) : (result as { vector: ArrayLike<number> }).vector;
}
