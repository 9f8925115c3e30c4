// extract: the output of a named layer for every image, as one vector each.
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import type { Pooling } from '../zoo/card.js';
import { abandonRun, executeRun, prepareRun, type ImageRunOptions } from './images-run.js';

export interface ExtractOptions extends ImageRunOptions {
  layer?: string;
  pool: Pooling;
  l2?: boolean;
}

export async function runExtract(inputs: string[], o: ExtractOptions): Promise<number> {
  const prepared = await prepareRun(inputs, o, 'extract', 'jsonl');
  if ('exitCode' in prepared) return prepared.exitCode;
  const { backbone } = prepared;
  const layer = o.layer ?? backbone.info.featureLayer;
  // A layer whose output is not [h, w, c] cannot be pooled: say so now, not once per image.
  const shape = layer ? backbone.layers().find((l) => l.name === layer)?.outputShape : null;
  const problem = !layer
    ? `${backbone.name} has no default feature layer: pass --layer (see \`backbones models info ${backbone.name} --layers\`).`
    : !backbone.hasLayer(layer)
      ? `${backbone.name} has no layer "${layer}"; list them with \`backbones models info ${backbone.name} --layers\`.`
      : o.pool !== 'none' && shape && shape.length !== 3
        ? `--pool ${o.pool} needs a spatial layer [h, w, c]; ${layer} gives [${shape.join(', ')}].`
        : null;
  if (problem || !layer) {
    abandonRun(prepared);
    throw new BackbonesError('E_USAGE', problem!);
  }
  log.info(`layer: ${layer}${o.pool !== 'none' ? `, ${o.pool}-pooled` : ''}${o.l2 ? ', L2-normalised' : ''}`);
  return executeRun(prepared, o, { kind: 'extract', layer, pool: o.pool, l2: Boolean(o.l2) });
}
