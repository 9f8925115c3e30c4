// The model a store's vectors were made with, loaded again from the store's provenance
// (search queries, dedup of a folder, serve --search): same model, weights, layer, pool,
// L2 and image handling. The provenance of what loaded is compared with the store's, so
// a different weights file or int8 model is refused, never silently mixed.
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import { startEngine, engineLine } from '../engines/select.js';
import { engineRequest, type EngineOptions } from '../engines/request.js';
import { loadBackbone } from '../zoo/load.js';
import { resolveModel } from '../zoo/registry.js';
import type { Backbone } from '../zoo/backbone.js';
import type { InputEntry } from '../images/inputs.js';
import { runBatches, type ImageSettings } from '../pipeline/batches.js';
import { computeFor, type Task } from '../tasks/task.js';
import type { Features } from '../tasks/extract.js';
import { assertFinite } from '../tasks/finite.js';
import { provenanceDifferences, provenanceOf, type Provenance } from '../store/provenance.js';

export interface SpecModel {
  backbone: Backbone;
  settings: ImageSettings;
  task: Extract<Task, { kind: 'extract' }>;
}

/** Image settings and task as the provenance records them. */
export function specOf(p: Provenance): Omit<SpecModel, 'backbone'> {
  return {
    settings: {
      size: p.inputSize,
      preprocess: p.preprocess as ImageSettings['preprocess'],
      resize: p.resize as ImageSettings['resize'],
      interpolation: p.interpolation as ImageSettings['interpolation'],
      background: p.background,
      kerasCompat: p.kerasCompat,
      decode: p.decode as ImageSettings['decode'],
    },
    task: { kind: 'extract', layer: p.layer, pool: p.pool, l2: p.l2 },
  };
}

/** Loads the model that made `p`'s vectors; `where` names the store in messages. */
export async function loadSpecModel(p: Provenance, where: string, o: EngineOptions & { cacheDir?: string }): Promise<SpecModel> {
  const resolved = resolveModel(p.model);
  const card = 'card' in resolved ? resolved.card : null;
  const sameSize = card !== null && card.inputSize[0] === p.inputSize[0] && card.inputSize[1] === p.inputSize[1];
  const engine = await startEngine(engineRequest(o));
  log.info(`backend: ${engineLine(engine.choice)}`);
  const selection = {
    weights: p.weights === 'random' ? 'random' : p.weights === 'file' ? p.weightsSource : undefined,
    seed: p.weights === 'random' && p.weightsSource !== '' ? Number(p.weightsSource) : undefined,
  };
  const backbone = await loadBackbone(p.model, {
    engine,
    ...selection,
    inputSize: sameSize ? undefined : p.inputSize,
    preprocess: p.preprocess as ImageSettings['preprocess'],
    precision: p.precision === 'int8' ? 'int8' : 'fp32',
    cacheDir: o.cacheDir,
  });
  const { settings, task } = specOf(p);
  try {
    if (p.precision === 'int8') await backbone.prepare([task.layer]);
    const now = await provenanceOf(backbone, task, settings, selection);
    const differs = provenanceDifferences(p, now);
    if (differs.length > 0) throw new BackbonesError('E_USAGE', `The model loaded now differs from the one that made ${where}: ${differs.join(', ')}.`);
  } catch (e) {
    backbone.dispose();
    throw e;
  }
  log.info(`model: ${p.model}, layer ${p.layer}${p.pool !== 'none' ? `, ${p.pool}-pooled` : ''}${p.l2 ? ', L2-normalised' : ''} (as ${where} was made)`);
  return { backbone, settings, task };
}

/** One vector (or error) per entry, in order. */
export async function vectorsOf(model: SpecModel, entries: InputEntry[], batchSize = 8): Promise<({ path: string; vector: Float32Array } | { path: string; error: string })[]> {
  const out: ({ path: string; vector: Float32Array } | { path: string; error: string })[] = [];
  await runBatches(entries, model.settings, batchSize, computeFor(model.task, model.backbone), (item, result) => {
    if (result === undefined) {
      out.push({ path: item.path, error: item.error ?? 'no result' });
      return;
    }
    const f = result as Features;
    assertFinite(model.backbone.name, item.path, f.vector);
    out.push({ path: item.path, vector: f.vector });
  });
  return out;
}
