// dedup --in STORE | dedup INPUTS…: groups of near-duplicate images from their feature
// vectors, each with a suggested keeper. Reads only: nothing is deleted or moved.
import path from 'node:path';
import { BackbonesError, EXIT } from '../errors.js';
import { aboutInput, log, plural } from '../log.js';
import { startEngine, engineLine } from '../engines/select.js';
import { resolveModel } from '../zoo/registry.js';
import { expandInputs, noImagesIn, parseExtensions } from '../images/inputs.js';
import { resolveSpec, type SpecOptions } from '../spec/spec.js';
import { imageSettingsOf, loadForSpec } from '../spec/load.js';
import type { StoredImage } from '../store/lance.js';
import { duplicateGroups, type DuplicateGroup } from '../search/dedup.js';
import { rowWriter, type RowFormat } from '../search/rows.js';
import { imageFacts } from './lance-run.js';
import { openStoreWithSpec } from './search.js';
import { vectorsOf } from './spec-model.js';

export interface DedupOptions extends SpecOptions {
  in?: string;
  threshold?: number;
  format?: RowFormat;
  ext: string;
}

/** What made the vectors, as far as the threshold cares (a spec record's fields). */
export interface VectorsOf {
  model: string;
  /** The spec's weights identity: the card's threshold holds for its imagenet weights only. */
  weights: string;
  layer: string;
  pool: string;
}

/** The threshold: --threshold, else the model card's measured default for its feature layer. */
export function dedupThreshold(p: VectorsOf, given: number | undefined): { threshold: number; source: string } {
  if (given !== undefined) return { threshold: given, source: '--threshold' };
  const resolved = resolveModel(p.model);
  const card = 'card' in resolved ? resolved.card : null;
  const measured = card?.dedup;
  if (!card || !measured) throw new BackbonesError('E_USAGE', `${p.model} has no measured duplicate threshold in its model card (see bench/dedup-quality.ts): pass --threshold, a cosine similarity (imagededup uses 0.9 with MobileNet).`);
  if (p.weights !== 'imagenet') throw new BackbonesError('E_USAGE', `The ${p.model} card's duplicate threshold was measured with its ImageNet weights; these vectors come from weights ${p.weights}: pass --threshold.`);
  if (measured.layer !== p.layer || p.pool !== 'none') {
    throw new BackbonesError('E_USAGE', `The ${p.model} card's duplicate threshold (${measured.threshold}) was measured on layer ${measured.layer}; these vectors come from ${p.layer}${p.pool !== 'none' ? ` ${p.pool}-pooled` : ''}: pass --threshold.`);
  }
  return { threshold: measured.threshold, source: `the ${p.model} model card` };
}

async function fromStore(o: DedupOptions): Promise<{ images: StoredImage[]; vectors: Float32Array; made: VectorsOf; where: string }> {
  const { target, store, stored } = await openStoreWithSpec(o.in!, '--in');
  try {
    const f = stored.record.fields;
    const made = { model: f.model ?? '', weights: f.weights ?? '', layer: f.layer ?? '', pool: f.pool ?? 'none' };
    dedupThreshold(made, o.threshold); // before reading every vector
    const { images, vectors } = await store.readAll();
    return { images, vectors, made, where: target.given };
  } finally {
    store.close();
  }
}

async function fromInputs(inputs: string[], o: DedupOptions): Promise<{ images: StoredImage[]; vectors: Float32Array; made: VectorsOf; where: string; failed: number }> {
  // The card's feature layer, unpooled and unnormalised: what the card's threshold was measured on.
  const spec = await resolveSpec({ ...o, layer: undefined, pool: 'none', l2: false }, { task: 'extract' });
  const extensions = parseExtensions(o.ext);
  const entries = await expandInputs(inputs, { extensions });
  if (entries.length === 0) throw new BackbonesError('E_NO_INPUTS', `${noImagesIn(inputs, extensions)}.`);
  const engine = await startEngine(spec.engine);
  log.info(`backend: ${engineLine(engine.choice)}`);
  const backbone = await loadForSpec(spec, engine);
  try {
    const layer = spec.task?.kind === 'extract' ? spec.task.layer : undefined;
    if (!layer) throw new BackbonesError('E_USAGE', `${backbone.name} has no default feature layer to compare images with.`);
    const settings = imageSettingsOf(spec, backbone.info);
    const task = { kind: 'extract' as const, layer, pool: 'none' as const, l2: false };
    if (spec.precision !== 'fp32') await backbone.prepare([layer]);
    const made = { model: spec.model, weights: spec.identity.weights, layer, pool: 'none' };
    dedupThreshold(made, o.threshold);
    log.info(`extracting ${layer} of ${plural(entries.length, 'image')} with ${backbone.name} …`);
    const results = await vectorsOf({ backbone, settings, task }, entries, spec.run.batchSize);
    const ok = results.filter((r): r is { path: string; vector: Float32Array } => 'vector' in r);
    for (const r of results) if ('error' in r) log.error(aboutInput(r.path, r.error));
    const dim = ok[0]?.vector.length ?? 0;
    const vectors = new Float32Array(ok.length * dim);
    ok.forEach((r, i) => vectors.set(r.vector, i * dim));
    const images = await Promise.all(ok.map(async (r) => ({ path: r.path, run: '', ...(await imageFacts(path.resolve(r.path))) })));
    return { images, vectors, made, where: inputs.join(', '), failed: results.length - ok.length };
  } finally {
    backbone.dispose();
  }
}

export const DEDUP_COLUMNS = ['group', 'size', 'path', 'keeper', 'similarity', 'width', 'height', 'bytes', 'mtime'];

export async function runDedup(inputs: string[], o: DedupOptions): Promise<number> {
  if (o.in && inputs.length > 0) throw new BackbonesError('E_USAGE', 'dedup takes either --in STORE or image folders, not both.');
  if (!o.in && inputs.length === 0) throw new BackbonesError('E_USAGE', 'dedup needs --in STORE or image folders to read.');
  if (o.threshold !== undefined && !(o.threshold > 0 && o.threshold <= 1)) throw new BackbonesError('E_USAGE', `--threshold is a cosine similarity in (0, 1]; received ${o.threshold}.`);
  const got = o.in ? { ...(await fromStore(o)), failed: 0 } : await fromInputs(inputs, o);
  const { threshold, source } = dedupThreshold(got.made, o.threshold);
  const dim = got.images.length > 0 ? got.vectors.length / got.images.length : 0;
  const groups = duplicateGroups(got.images, got.vectors, dim, threshold);
  writeGroups(groups, o.format ?? (process.stdout.isTTY ? 'table' : 'jsonl'));
  const inGroups = groups.reduce((s, g) => s + g.size, 0);
  log.info(
    `${got.images.length} images in ${got.where}: ${groups.length} group${groups.length === 1 ? '' : 's'} of near-duplicates holding ${inGroups} images; ` +
      `${inGroups - groups.length} could go if each group kept its suggested keeper (largest pixel count, then oldest). ` +
      `Threshold ${threshold} (cosine, from ${source}); pairs at or above it are joined transitively, so two members of a group can be less similar than that. Nothing was deleted or moved.`,
  );
  return got.failed > 0 ? EXIT.partial : EXIT.ok;
}

function writeGroups(groups: DuplicateGroup[], format: RowFormat): void {
  const out = (t: string) => process.stdout.write(t);
  if (format === 'jsonl' || format === 'json') {
    const records = groups.map((g) => ({ ...g, members: g.members.map(({ run, ...m }) => ({ ...m, mtime: new Date(m.mtime).toISOString(), ...(run ? { run } : {}) })) }));
    out(format === 'jsonl' ? records.map((r) => JSON.stringify(r) + '\n').join('') : JSON.stringify(records, null, 2) + '\n');
    return;
  }
  const writer = rowWriter(format, DEDUP_COLUMNS, out);
  for (const g of groups) {
    for (const m of g.members) {
      writer.write({ group: g.group, size: g.size, path: m.path, keeper: m.keeper, similarity: m.similarity, width: m.width, height: m.height, bytes: m.bytes, mtime: new Date(m.mtime).toISOString() });
    }
  }
  writer.close();
}
