// serve --search STORE: opens the vector store before the server listens and checks that
// the served spec makes the same vectors as the store's: every field of the spec before
// listening (model, weights, input, preprocessing, image handling, precision), and the
// record of what loaded (the int8 model, a precision auto fell back from) once it has.
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import { LanceStore, lanceTarget } from '../store/lance.js';
import { storedDifferences } from '../store/stored-spec.js';
import type { SpecRecord } from '../output/spec-record.js';
import { specRecord } from '../spec/fingerprint.js';
import type { RunSpec } from '../spec/spec.js';
import type { Pooling } from '../zoo/card.js';
import type { SearchIndex } from './search.js';

export async function openSearchStore(value: string, served: RunSpec): Promise<SearchIndex> {
  const target = lanceTarget(value, '--search');
  const store = await LanceStore.open(target);
  if (!store) throw new BackbonesError('E_NOT_FOUND', `--search ${value}: there is no vector store there; make one with \`backbones extract DIR --to ${value}\`.`);
  const stored = store.spec;
  const f = stored?.record.fields;
  if (!stored || !f?.layer) {
    store.close();
    throw new BackbonesError('E_USAGE', `--search ${value} was not written by backbones (no spec in its metadata).`);
  }
  const task = { kind: 'extract' as const, layer: f.layer, pool: (f.pool ?? 'none') as Pooling, l2: f.l2 === 'true' };
  // The served spec with the store's task: every field must agree (the int8 model once loaded).
  const now = specRecord({ ...served, task });
  const differs = storedDifferences(stored, now).filter((d) => !d.startsWith('int8 '));
  if (differs.length > 0) {
    store.close();
    throw new BackbonesError('E_USAGE', `--search ${value} holds vectors made differently from what serve would make (${differs.join('; ')}); serve with the options that made them.`);
  }
  const index = await store.indexed();
  log.info(`search: ${value} (${await store.count()} vectors, ${index ? `${index} index` : 'exact'}; layer ${task.layer})`);
  return { store, spec: stored, task, index };
}

/** Once the model has loaded: what runs (precision, int8 model) must be what made the store. */
export function checkServedModel(search: SearchIndex, served: SpecRecord | undefined): void {
  if (!served) return;
  const differs = storedDifferences(search.spec, served, true).filter((d) => /^(precision|int8) /.test(d));
  if (differs.length > 0) throw new BackbonesError('E_USAGE', `The served model does not make the vectors stored in ${search.store.target.given} (${differs.join('; ')}).`);
}
