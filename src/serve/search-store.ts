// serve --search STORE: opens the vector store before the server listens and checks
// that the served model makes the same vectors as the store's (model name at once;
// weights hash, precision and image settings once the model has loaded).
import { BackbonesError } from '../errors.js';
import { log } from '../log.js';
import { resolveModel } from '../zoo/registry.js';
import type { ImageSettings } from '../pipeline/batches.js';
import { LanceStore, lanceTarget } from '../store/lance.js';
import { provenanceDifferences, type Provenance } from '../store/provenance.js';
import type { ModelInfo } from './compute.js';
import type { SearchIndex } from './search.js';

export async function openSearchStore(value: string, model: string): Promise<SearchIndex> {
  const target = lanceTarget(value, '--search');
  const store = await LanceStore.open(target);
  if (!store) throw new BackbonesError('E_NOT_FOUND', `--search ${value}: there is no vector store there; make one with \`backbones extract DIR --to ${value}\`.`);
  const provenance = store.provenance;
  const name = 'card' in resolveModel(model) ? model.toLowerCase() : model;
  if (!provenance || provenance.model !== name) {
    store.close();
    throw new BackbonesError('E_USAGE', provenance ? `--search ${value} holds vectors of ${provenance.model}; serve it with -m ${provenance.model} (now -m ${model}).` : `--search ${value} was not written by backbones (no provenance in its metadata).`);
  }
  const index = await store.indexed();
  log.info(`search: ${value} (${await store.count()} vectors, ${index ? `${index} index` : 'exact'}; layer ${provenance.layer})`);
  return { store, provenance, index };
}

/** Throws when the loaded model or the image settings differ from what made the store. */
export function checkServedModel(search: SearchIndex, info: ModelInfo, settings: ImageSettings): void {
  const p = search.provenance;
  const now: Provenance = {
    ...p,
    model: info.name,
    weightsHash: info.weightsHash ?? 'unhashed',
    precision: info.precision ?? 'fp32',
    inputSize: settings.size,
    preprocess: settings.preprocess,
    resize: settings.resize ?? 'squash',
    interpolation: settings.interpolation ?? 'bilinear',
    background: settings.background ?? 'white',
    decode: settings.decode ?? 'exact',
    kerasCompat: Boolean(settings.kerasCompat),
  };
  const differs = provenanceDifferences(p, now);
  if (differs.length > 0) throw new BackbonesError('E_USAGE', `The served model does not make the vectors stored in ${search.store.target.given}: ${differs.join(', ')}.`);
}
