// The model cards (top-level models/*.json, one per backbone) and the ImageNet labels
// (models/imagenet_class_index.json, Keras' own file). models/ sits two levels above this
// file both in src/zoo/ (tsx) and in dist/zoo/ (after tsc).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelCard } from './card.js';
import { BackbonesError } from '../errors.js';

export const MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

/** Keras' imagenet_class_index.json: {"0": ["n01440764", "tench"], …}. Not a card. */
export const IMAGENET_LABELS_FILE = 'imagenet_class_index.json';

let cardsCache: ModelCard[] | undefined;

/** Every card in models/, in natural name order. A card's `name` must match its file name. */
export function loadCards(): ModelCard[] {
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

/** The card called `name`; an unknown name throws a BackbonesError that lists the valid ones. */
export function getCard(name: string): ModelCard {
  const cards = loadCards();
  const card = cards.find((c) => c.name === name);
  if (!card) {
    throw new BackbonesError('E_UNKNOWN_MODEL', `Unknown model '${name}'. Valid models are: ${cards.map((c) => c.name).join(', ')}`);
  }
  return card;
}

/**
 * Card names matching a filter, in natural order: a glob (`*` any run of characters,
 * `?` one character) matches whole names; plain text matches anywhere in the name
 * (`vgg` finds vgg16 and vgg19). Case-insensitive.
 */
export function listModels(filter?: string): string[] {
  const names = loadCards().map((c) => c.name);
  if (filter === undefined || filter === '') return names;
  if (!/[*?]/.test(filter)) return names.filter((n) => n.toLowerCase().includes(filter.toLowerCase()));
  const re = globToRegExp(filter);
  return names.filter((n) => re.test(n));
}

/** The 1000 ImageNet classes in Keras' order (index = position). */
export function loadImagenetLabels(): { wnid: string; label: string }[] {
  const file = path.join(MODELS_DIR, IMAGENET_LABELS_FILE);
  const index = JSON.parse(readFileSync(file, 'utf8')) as Record<string, [string, string]>;
  const n = Object.keys(index).length;
  return Array.from({ length: n }, (_, i) => {
    const entry = index[String(i)];
    if (!entry) throw new Error(`${file}: class ${i} is missing (${n} entries)`);
    return { wnid: entry[0], label: entry[1] };
  });
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
