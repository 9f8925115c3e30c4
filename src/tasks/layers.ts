// What a task needs of a model's layers, as the one sentence each caller turns into its
// own error (a usage error, an HTTP 400, a failed queue job).
import type { LayerInfo } from '../zoo/backbone.js';
import type { Pooling } from '../zoo/card.js';

/** The sentence for a pooling asked of a layer that is not [h, w, c]; `asked` as the user wrote it ("--pool avg", "pool=avg"). */
export function poolingProblem(asked: string, layer: string, shape: readonly number[]): string {
  return `${asked} needs a spatial layer [h, w, c]; ${layer} gives [${shape.join(', ')}].`;
}

/**
 * What an extract task needs of a model's layers, as the one sentence that says what is
 * missing (null: nothing). Every caller (the spec after loading, serve per request, the
 * queue worker, the library) wraps it in its own error type.
 */
export function layerProblem(model: { name: string; layers: readonly LayerInfo[] }, layer: string | null | undefined, pool: Pooling, asked = `--pool ${pool}`): string | null {
  if (!layer) return `${model.name} has no default feature layer: pass --layer (see \`backbones models info ${model.name} --layers\`).`;
  const found = model.layers.find((l) => l.name === layer);
  if (!found) return `${model.name} has no layer "${layer}"; list them with \`backbones models info ${model.name} --layers\`.`;
  if (pool !== 'none' && found.outputShape && found.outputShape.length !== 3) return poolingProblem(asked, layer, found.outputShape);
  return null;
}
