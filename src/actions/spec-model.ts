// The model a store's vectors were made with, loaded again from the spec the store
// keeps (search queries, dedup of a folder, serve --search): the same options resolved
// again, then the record of what loaded compared with the store's, so a different
// weights file or int8 model is refused, never silently mixed.
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import { startEngine, engineLine } from '../engines/select.js';
import type { Backbone } from '../zoo/backbone.js';
import type { InputEntry } from '../images/inputs.js';
import { runBatches, type ImageSettings } from '../pipeline/batches.js';
import { computeFor, type Task } from '../tasks/task.js';
import type { Features } from '../tasks/extract.js';
import { assertFinite } from '../tasks/finite.js';
import { storedDifferences, type StoredSpec } from '../store/stored-spec.js';
import { resolveSpec, type RunSpec, type SpecOptions } from '../spec/spec.js';
import { imageSettingsOf, loadForSpec, recordOf } from '../spec/load.js';

export interface SpecModel {
  spec: RunSpec;
  backbone: Backbone;
  settings: ImageSettings;
  task: Extract<Task, { kind: 'extract' }>;
}

/** The engine and batch options a command passes on (the store's spec says everything else). */
export type EngineChoice = Pick<SpecOptions, 'backend' | 'device' | 'provider' | 'threads' | 'cacheDir' | 'batchSize'>;

/** The extract task of a resolved spec (its layer resolved). */
export function extractTask(spec: RunSpec): Extract<Task, { kind: 'extract' }> {
  const t = spec.task;
  if (t?.kind !== 'extract' || t.layer === undefined) throw new BackbonesError('E_INTERNAL', 'the spec has no extract layer');
  return { kind: 'extract', layer: t.layer, pool: t.pool, l2: t.l2 };
}

/** Loads the model that made a store's vectors; `where` names the store in messages. */
export async function loadStoredSpec(stored: StoredSpec, where: string, o: EngineChoice): Promise<SpecModel> {
  const spec = await resolveSpec({ ...(stored.options as SpecOptions), ...o }, { task: 'extract' });
  const engine = await startEngine(spec.engine);
  log.info(`backend: ${engineLine(engine.choice)}`);
  const backbone = await loadForSpec(spec, engine);
  const task = extractTask(spec);
  try {
    if (spec.precision !== 'fp32') await backbone.prepare([task.layer]);
    const differs = storedDifferences(stored, recordOf(spec, backbone));
    if (differs.length > 0) throw new BackbonesError('E_USAGE', `The model loaded now differs from the one that made ${where} (${differs.join('; ')}).`);
  } catch (e) {
    backbone.dispose();
    throw e;
  }
  log.info(`model: ${spec.model}, layer ${task.layer}${task.pool !== 'none' ? `, ${task.pool}-pooled` : ''}${task.l2 ? ', L2-normalised' : ''} (as ${where} was made)`);
  return { spec, backbone, settings: imageSettingsOf(spec, backbone.info), task };
}

/** One vector (or error) per entry, in order. */
export async function vectorsOf(model: Omit<SpecModel, 'spec'>, entries: InputEntry[], batchSize = 8): Promise<({ path: string; vector: Float32Array } | { path: string; error: string })[]> {
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
