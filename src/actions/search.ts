// search QUERY… --in STORE: the nearest stored images of each query by cosine
// similarity. A query is a path already in the store (its stored vector; itself left
// out of the answer) or an image file, extracted exactly as the store's vectors were.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { BackbonesError, EXIT } from '../errors.js';
import { aboutInput, log } from '../log.js';
import { LanceStore, lanceTarget, type LanceTarget } from '../store/lance.js';
import type { StoredSpec } from '../store/stored-spec.js';
import { rowWriter, type RowFormat } from '../search/rows.js';
import { loadStoredSpec, vectorsOf, type EngineChoice } from './spec-model.js';

export interface SearchOptions extends EngineChoice {
  in: string;
  k: number;
  format?: RowFormat;
  exact?: boolean;
}

export const SEARCH_COLUMNS = ['query', 'rank', 'path', 'similarity', 'distance'];

/** The store named by --in, with the spec its vectors were made with; a usage error when there is none. */
export async function openStoreWithSpec(value: string, flag: string): Promise<{ target: LanceTarget; store: LanceStore; stored: StoredSpec }> {
  const target = lanceTarget(value, flag);
  const store = await LanceStore.open(target);
  if (!store) throw new BackbonesError('E_NOT_FOUND', `${flag} ${value}: there is no vector store there; make one with \`backbones extract DIR --to ${value}\`.`);
  if (!store.spec) {
    store.close();
    throw new BackbonesError('E_USAGE', `${flag} ${value} was not written by backbones (no spec in its metadata), so a query cannot be extracted to match it.`);
  }
  return { target, store, stored: store.spec };
}

export async function runSearch(queries: string[], o: SearchOptions): Promise<number> {
  const { target, store, stored: storedSpec } = await openStoreWithSpec(o.in, '--in');
  try {
    // Every query is sorted out before a model loads: stored path, image file, or an error.
    const stored = new Map<string, Float32Array>();
    const files: string[] = [];
    for (const q of queries) {
      const v = await store.vectorOf(path.resolve(q));
      if (v) stored.set(q, v);
      else if (existsSync(q) && statSync(q).isFile()) files.push(q);
      else throw new BackbonesError('E_NOT_FOUND', `${q} is neither an image file nor a path stored in ${target.given}.`);
    }
    let failed = 0;
    const vectors = new Map(stored);
    if (files.length > 0) {
      const model = await loadStoredSpec(storedSpec, target.given, o);
      try {
        for (const r of await vectorsOf(model, files.map((f) => ({ path: f })), model.spec.run.batchSize)) {
          if ('vector' in r) vectors.set(r.path, r.vector);
          else {
            failed += 1;
            log.error(aboutInput(r.path, r.error));
          }
        }
      } finally {
        model.backbone.dispose();
      }
    }
    const rows = await store.count();
    const index = await store.indexed();
    const exact = Boolean(o.exact) || index === null;
    log.info(`search: ${exact ? 'exact' : `ANN (${index} index)`} over ${rows} vectors in ${target.given}`);
    const format = o.format ?? (process.stdout.isTTY ? 'table' : 'jsonl');
    const writer = rowWriter(format, SEARCH_COLUMNS, (t) => process.stdout.write(t));
    for (const q of queries) {
      const v = vectors.get(q);
      if (!v) continue;
      const self = stored.has(q) ? path.resolve(q) : null;
      const found = (await store.search(v, o.k + (self ? 1 : 0), { exact })).filter((n) => n.path !== self).slice(0, o.k);
      found.forEach((n, i) => writer.write({ query: q, rank: i + 1, path: n.path, similarity: n.similarity, distance: n.distance }));
    }
    writer.close();
    return failed > 0 ? EXIT.partial : EXIT.ok;
  } finally {
    store.close();
  }
}
