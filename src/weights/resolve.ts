// The weights resolver: the one place that decides which weights a zoo model gets and
// where they come from: a card's imagenet files (from the cache, else downloaded and
// verified; verifiable files first), a file or URL given with --weights, or random.
// zoo/load.ts builds the model and assigns what planWeights returns; `models pull` and
// bench ask the same questions here. Nothing here loads TensorFlow.js.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { BackbonesError } from '../errors.js';
import { log, isQuiet } from '../log.js';
import type { WeightsSource } from './source.js';
import { resolveCacheDir, cachedPath, cachedTfjsDir, isCached } from './cache.js';
import { downloadFile, downloadTfjsModel, progressReporter, isUrl } from './download.js';

/** What the resolver reads of a model card (zoo/card.ts's ModelCard; weights/ does not import zoo/). */
export interface CardWeights {
  name: string;
  inputSize: [number, number];
  weights: WeightsSource[];
  architectureOptions?: Record<string, number | string | boolean>;
}

/** What the model needs of the classifier head: files with it, files without it, or either (extra layers go unused). */
export type HeadNeed = 'with' | 'without' | 'any';

/** One of a card's imagenet files: which source, its path in the cache, whether it is there. */
export interface ImagenetFile {
  source: WeightsSource;
  path: string;
  cached: boolean;
}

/** The weights a zoo model gets: random, its imagenet file, or a file the user named (located on disk). */
export type WeightsPlan =
  | { kind: 'random'; seed: number }
  | { kind: 'imagenet' | 'file'; location: string; format: WeightsSource['format']; origin: string };

export interface WeightsRequest {
  /** imagenet (default), random, or a path/URL to a Keras .h5 or TF.js model.json. */
  weights?: string;
  alpha?: number;
  inputSize?: [number, number];
  seed?: number;
  cacheDir?: string;
  /** false: never download (bench uses cached-or-random). */
  allowDownload?: boolean;
  /** Whether the model is built with the classifier head. */
  includeTop: boolean;
}

/** A card's imagenet sources that fit the head need, best first: those with a published checksum before those without. */
export function imagenetSources(card: CardWeights, head: HeadNeed): WeightsSource[] {
  const fits = (w: WeightsSource) => head === 'any' || w.includeTop === (head === 'with');
  return card.weights.filter(fits).sort((a, b) => Number(b.hash !== null) - Number(a.hash !== null));
}

/**
 * Where a card's imagenet weights are, or would come from. prefer 'cached' (loading a
 * model): the first fitting source already in the cache, else the best one. prefer
 * 'best' (`models pull`): the best source, cached or not. Throws when none fits.
 */
export async function locateImagenet(card: CardWeights, o: { head: HeadNeed; cacheDir: string; prefer: 'cached' | 'best' }): Promise<ImagenetFile> {
  const sources = imagenetSources(card, o.head);
  if (sources.length === 0) {
    throw new BackbonesError('E_WEIGHTS', `${card.name} publishes no imagenet weights${o.head === 'any' ? '' : ` ${o.head} the classifier head`}.`);
  }
  if (o.prefer === 'cached') {
    for (const source of sources) {
      if (await isCached(card.name, source, o.cacheDir)) return { source, path: cachedPath(card.name, source, o.cacheDir), cached: true };
    }
  }
  const source = sources[0]!;
  return { source, path: cachedPath(card.name, source, o.cacheDir), cached: await isCached(card.name, source, o.cacheDir) };
}

/** Every weights source of a card with its cache path and whether it is cached (`models list` / `models info`). */
export async function sourcesWithStatus(card: CardWeights, cacheDir: string): Promise<(WeightsSource & { cached: boolean; cachePath: string })[]> {
  return Promise.all(card.weights.map(async (w) => ({ ...w, cached: await isCached(card.name, w, cacheDir), cachePath: cachedPath(card.name, w, cacheDir) })));
}

/** Whether imagenet weights with the head (what a default load uses) are cached: bench runs those, else random weights. */
export async function imagenetCached(card: CardWeights, cacheDir: string): Promise<boolean> {
  for (const source of imagenetSources(card, 'with')) if (await isCached(card.name, source, cacheDir)) return true;
  return false;
}

function variantDiffers(card: CardWeights, request: Pick<WeightsRequest, 'alpha' | 'inputSize'>): boolean {
  const alpha = card.architectureOptions?.alpha;
  const alphaDiffers = request.alpha !== undefined && request.alpha !== alpha;
  const sizeDiffers = request.inputSize !== undefined && (request.inputSize[0] !== card.inputSize[0] || request.inputSize[1] !== card.inputSize[1]);
  return alphaDiffers || sizeDiffers;
}

/** imagenet weights exist for the card's own width and size only: another --alpha or --input-size needs other weights. */
export function checkImagenetVariant(card: CardWeights, request: Pick<WeightsRequest, 'alpha' | 'inputSize'>): void {
  if (variantDiffers(card, request)) {
    throw new BackbonesError(
      'E_WEIGHTS',
      `No imagenet weights for ${card.name} with that --alpha/--input-size in the zoo; use --weights PATH, --weights random, or a card that has them (backbones models list).`,
    );
  }
}

/**
 * The weights a zoo model gets, found (or downloaded) before anything is built: a
 * missing file fails in a second, not after VGG16 is built.
 */
export async function planWeights(card: CardWeights, request: WeightsRequest): Promise<WeightsPlan> {
  const choice = request.weights ?? 'imagenet';
  if (choice === 'random') return { kind: 'random', seed: request.seed ?? 42 };
  if (choice === 'imagenet') {
    checkImagenetVariant(card, request);
    const file = await imagenetFile(card, request);
    return { kind: 'imagenet', location: file.path, format: file.source.format, origin: file.source.url };
  }
  const format = weightsFormatOf(choice);
  if (isUrl(choice)) return { kind: 'file', location: await downloadWeightsUrl(choice, format, resolveCacheDir(request.cacheDir)), format, origin: choice };
  if (!existsSync(choice)) throw new BackbonesError('E_NOT_FOUND', `Weights file not found: ${choice}`);
  return { kind: 'file', location: choice, format, origin: choice };
}

/** The cached imagenet weights file of a card, downloading it (verified) when allowed. */
async function imagenetFile(card: CardWeights, request: WeightsRequest): Promise<ImagenetFile> {
  const cacheDir = resolveCacheDir(request.cacheDir);
  // With the top, only files that hold it will do; without, either works (extra layers are unused).
  const file = await locateImagenet(card, { head: request.includeTop ? 'with' : 'any', cacheDir, prefer: 'cached' });
  if (file.cached) return file;
  if (request.allowDownload === false) {
    throw new BackbonesError('E_WEIGHTS', `The imagenet weights of ${card.name} are not cached at ${file.path}; run \`backbones models pull ${card.name}\`, copy the file there, or pass --weights PATH.`);
  }
  await pullSource(card, file.source, cacheDir);
  return { ...file, cached: true };
}

/** The format of a --weights file or URL, from its name (or a folder: TF.js). */
export function weightsFormatOf(location: string): WeightsSource['format'] {
  if (/\.(h5|hdf5)$/i.test(location)) return 'keras-h5';
  if (/\.json$/i.test(location) || (!isUrl(location) && existsSync(location) && statSync(location).isDirectory())) return 'tfjs-layers';
  if (/\.keras$/i.test(location)) {
    throw new BackbonesError('E_WEIGHTS', `${location}: the Keras 3 .keras (zip) format is not supported; save with model.save_weights("x.weights.h5") in Keras 2 layout or convert with tensorflowjs_converter.`);
  }
  throw new BackbonesError('E_WEIGHTS', `Cannot tell the format of ${location}: weights must be a Keras .h5 file or a TF.js model.json (or its folder).`);
}

/**
 * The URL to fetch a card's file from. BACKBONES_WEIGHTS_MIRROR (e.g. an internal
 * server holding a copy of the same paths) replaces the scheme and host, so
 * air-gapped sites and tests can serve the very files the cards name.
 */
export function sourceUrl(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const mirror = env.BACKBONES_WEIGHTS_MIRROR;
  if (!mirror) return url;
  const u = new URL(url);
  return mirror.replace(/\/+$/, '') + u.pathname + u.search;
}

/** Downloads one weights source of a card into the cache, verifying its checksum. */
export async function pullSource(card: CardWeights, source: WeightsSource, cacheDir: string, o: { pulling?: boolean } = {}): Promise<string> {
  const dest = cachedPath(card.name, source, cacheDir);
  const progress = progressReporter(`${card.name} ${source.fileName}`, { quiet: isQuiet() });
  const common = { hash: source.hash, hashAlgorithm: source.hashAlgorithm, modelName: card.name, onProgress: progress.onProgress, ...(o.pulling ? { pulling: true } : {}) };
  try {
    const url = sourceUrl(source.url);
    if (source.format === 'tfjs-layers') await downloadTfjsModel(url, cachedTfjsDir(card.name, source, cacheDir), { ...common, cachePath: path.dirname(dest) });
    else await downloadFile(url, dest, { ...common, cachePath: dest });
    progress.stop(true);
  } catch (e) {
    progress.stop(false);
    throw e;
  }
  if (!source.hash) log.warn(`${source.fileName}: no published checksum to verify against (${source.note ?? 'none published'}).`);
  return dest;
}

/** A --weights URL, downloaded once into <cache>/urls/<url in base64url>/. */
async function downloadWeightsUrl(url: string, format: WeightsSource['format'], cacheDir: string): Promise<string> {
  const name = path.posix.basename(new URL(url).pathname) || 'weights';
  const folder = path.join(cacheDir, 'urls', Buffer.from(url).toString('base64url').slice(0, 64));
  const dest = format === 'tfjs-layers' ? path.join(folder, 'model', 'model.json') : path.join(folder, name);
  if (existsSync(dest)) return dest;
  const progress = progressReporter(name, { quiet: isQuiet() });
  try {
    if (format === 'tfjs-layers') await downloadTfjsModel(url, path.dirname(dest), { onProgress: progress.onProgress });
    else await downloadFile(url, dest, { onProgress: progress.onProgress });
    progress.stop(true);
  } catch (e) {
    progress.stop(false);
    throw e;
  }
  return dest;
}
