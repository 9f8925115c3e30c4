// Class labels: ImageNet (Keras class order, shipped in models/), or a user file in
// any of the three common shapes: a JSON array, Keras' class-index JSON, or text.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BackbonesError } from '../errors.js';
import { IMAGENET_LABELS_FILE, MODELS_DIR } from './registry.js';

export interface Label {
  /** Index in the model's output after the label offset. */
  index: number;
  /** WordNet id when known (ImageNet), else null. */
  wnid: string | null;
  label: string;
}

/** The 1000 ImageNet classes in Keras' order (index = position), from models/imagenet_class_index.json. */
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

export function imagenetLabels(): Label[] {
  return loadImagenetLabels().map((l, index) => ({ index, wnid: l.wnid, label: l.label }));
}

/** Parses a labels file: JSON array of strings, {"0": ["n01440764", "tench"], …}, or one label per line. */
export function parseLabels(text: string, source = 'labels'): Label[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (e) {
      throw new BackbonesError('E_USAGE', `${source} is not valid JSON: ${(e as Error).message}`);
    }
    if (Array.isArray(json)) return json.map((label, index) => ({ index, wnid: null, label: String(label) }));
    const entries = Object.entries(json as Record<string, unknown>);
    const labels = entries.map(([k, v]) => {
      const index = Number(k);
      if (!Number.isInteger(index) || index < 0) throw new BackbonesError('E_USAGE', `${source}: class index "${k}" is not a non-negative integer.`);
      if (Array.isArray(v) && v.length === 2) return { index, wnid: String(v[0]), label: String(v[1]) };
      return { index, wnid: null, label: String(v) };
    });
    labels.sort((a, b) => a.index - b.index);
    labels.forEach((l, i) => {
      if (l.index !== i) throw new BackbonesError('E_USAGE', `${source}: class indices must run 0..${labels.length - 1} without gaps (missing ${i}).`);
    });
    return labels;
  }
  return trimmed
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((label, index) => ({ index, wnid: null, label }));
}

export async function readLabelsFile(file: string): Promise<Label[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new BackbonesError('E_NOT_FOUND', `Labels file not found or unreadable: ${file}`);
  }
  return parseLabels(text, file);
}
