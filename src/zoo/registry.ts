// The model registry (after timm's _registry.py): the one place that registers the
// zoo's models, lists them and resolves a name typed by a user. A model is registered by
// its card, top-level models/<name>.json (schema: card.ts); its card names the
// architecture builder (architectures.ts). Names are matched case-insensitively.
// models/ sits two levels above this file both in src/zoo/ (tsx) and in dist/zoo/ (after tsc).
// Nothing here loads TensorFlow.js, so `models list` stays quick.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelCard } from './card.js';
import { BackbonesError } from '../errors.js';
import { isUrl } from '../weights/download.js';

export const MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

/** Keras' imagenet_class_index.json: {"0": ["n01440764", "tench"], …}. Not a card. */
export const IMAGENET_LABELS_FILE = 'imagenet_class_index.json';

let cardsCache: ModelCard[] | undefined;

/** Every registered card, in natural name order. A card's `name` must match its file name. */
export function listCards(): ModelCard[] {
  if (cardsCache) return cardsCache;
  const files = readdirSync(MODELS_DIR).filter((f) => f.endsWith('.json') && f !== IMAGENET_LABELS_FILE);
  const cards = files.map((file) => {
    const card = JSON.parse(readFileSync(path.join(MODELS_DIR, file), 'utf8')) as ModelCard;
    const expected = path.basename(file, '.json');
    if (card.name !== expected) {
      throw new Error(`Model card ${path.join(MODELS_DIR, file)}: name must be '${expected}'. Received: name=${card.name}`);
    }
    return card;
  });
  cardsCache = cards.sort((a, b) => naturalCompare(a.name, b.name));
  return cardsCache;
}

/**
 * Registered names matching a filter, in natural order: a glob (`*` any run of characters,
 * `?` one character) matches whole names; plain text matches anywhere in the name
 * (`vgg` finds vgg16 and vgg19). Case-insensitive. No filter: every name.
 */
export function listModels(filter?: string): string[] {
  const names = listCards().map((c) => c.name);
  if (filter === undefined || filter === '') return names;
  if (!/[*?]/.test(filter)) return names.filter((n) => n.toLowerCase().includes(filter.toLowerCase()));
  const re = globToRegExp(filter);
  return names.filter((n) => re.test(n));
}

/** The card of a registered name (case-insensitive), or undefined. */
export function findCard(name: string): ModelCard | undefined {
  const wanted = name.toLowerCase();
  return listCards().find((c) => c.name === wanted);
}

/** The card of a registered name (case-insensitive); an unknown name throws unknownModelError. */
export function getCard(name: string): ModelCard {
  const card = findCard(name);
  if (!card) throw unknownModelError(name);
  return card;
}

/** Whether a model spec names a file or URL (a TF.js model.json or its folder) rather than a registered model. */
export function isModelPath(spec: string): boolean {
  return isUrl(spec) || existsSync(spec) || /\.json$/i.test(spec) || spec.includes('/') || spec.includes(path.sep);
}

/** Whether a model spec can be loaded: a registered name or a model path/URL. */
export function isKnownModel(spec: string): boolean {
  return findCard(spec) !== undefined || isModelPath(spec);
}

/** What a model spec resolves to: a registered card, else a model file or URL; anything else throws unknownModelError. */
export function resolveModel(spec: string): { card: ModelCard } | { path: string } {
  const card = findCard(spec);
  if (card) return { card };
  if (isModelPath(spec)) return { path: spec };
  throw unknownModelError(spec);
}

/** The one "unknown model" error (exit 2): it lists the registered names. */
export function unknownModelError(spec: string): BackbonesError {
  return new BackbonesError('E_UNKNOWN_MODEL', `Unknown model "${spec}": valid names are ${listModels().join(', ')} (or pass a model.json path or URL).`);
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Natural order: 'resnet50' < 'resnet101', 'mobilenet' < 'mobilenet_v2'. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}
