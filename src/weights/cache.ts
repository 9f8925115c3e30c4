// Where downloaded weights live: <cache dir>/<card name>/<fileName>.
//
// The cache dir is, in order: the --cache-dir flag, $BACKBONES_CACHE,
// $XDG_CACHE_HOME/backbones, ~/.cache/backbones (Keras uses ~/.keras/models; we follow
// the XDG convention like pip and huggingface_hub).
//
// A keras-h5 source is one file, cachedPath = <cache>/<card>/<fileName>.
// A tfjs-layers source is a folder holding model.json and the shards it lists:
// <cache>/<card>/<fileName without a trailing ".json">/, and cachedPath points at the
// model.json inside it (what readTfjsLayersWeights / modelHandler take).
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { WeightsSource } from './source.js';
import { WeightsError } from './errors.js';

type SourceRef = Pick<WeightsSource, 'format' | 'fileName'>;

/** The cache directory (absolute): flag, else $BACKBONES_CACHE, else XDG / ~/.cache. */
export function resolveCacheDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return path.resolve(flag);
  if (env.BACKBONES_CACHE) return path.resolve(env.BACKBONES_CACHE);
  if (env.XDG_CACHE_HOME) return path.resolve(env.XDG_CACHE_HOME, 'backbones');
  return path.join(os.homedir(), '.cache', 'backbones');
}

/** Rejects names that would leave the cache dir ("..", "a/b", absolute paths). */
function safeSegment(what: string, value: string): string {
  if (!value || value === '.' || value === '..' || /[/\\]/.test(value) || value.includes('\0')) {
    throw new WeightsError(`Invalid ${what} for the weights cache: ${JSON.stringify(value)}.`);
  }
  return value;
}

/** Folder that holds a tfjs-layers source (model.json + shards). */
export function cachedTfjsDir(cardName: string, source: SourceRef, cacheDir = resolveCacheDir()): string {
  const folder = safeSegment('fileName', source.fileName).replace(/\.json$/i, '') || 'model';
  return path.join(cacheDir, safeSegment('card name', cardName), folder);
}

/** The path of a source in the cache (for tfjs-layers: the model.json in its folder). */
export function cachedPath(cardName: string, source: SourceRef, cacheDir = resolveCacheDir()): string {
  if (source.format === 'tfjs-layers') return path.join(cachedTfjsDir(cardName, source, cacheDir), 'model.json');
  return path.join(cacheDir, safeSegment('card name', cardName), safeSegment('fileName', source.fileName));
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether the source is fully in the cache: the file, or for tfjs-layers model.json
 * and every shard its weightsManifest lists. Does not re-verify hashes (downloads are
 * verified before they are renamed into place, so a present file is a complete one).
 */
export async function isCached(cardName: string, source: SourceRef, cacheDir = resolveCacheDir()): Promise<boolean> {
  const file = cachedPath(cardName, source, cacheDir);
  if (!(await isFile(file))) return false;
  if (source.format !== 'tfjs-layers') return true;
  let manifest: { paths?: string[] }[];
  try {
    const json = JSON.parse(await readFile(file, 'utf8')) as { weightsManifest?: { paths?: string[] }[] };
    manifest = json.weightsManifest ?? [];
  } catch {
    return false;
  }
  const dir = path.dirname(file);
  for (const group of manifest) {
    for (const p of group.paths ?? []) {
      if (!(await isFile(path.join(dir, p)))) return false;
    }
  }
  return true;
}
