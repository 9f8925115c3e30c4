// Locates ../shared/data (real photos and models). Under CI=true a missing folder
// is a failure, never a skip: the tests that need real data must run in CI.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const REPO_ROOT = repoRoot;

export const DATA_DIR = path.resolve(repoRoot, process.env.BACKBONES_TEST_DATA ?? '../shared/data');

/** Path inside the shared data folder; throws under CI when the folder is missing. */
export function dataPath(...parts: string[]): string {
  return path.join(DATA_DIR, ...parts);
}

/**
 * For `test(name, { skip: skipWithoutData() }, fn)`: returns false when the data is
 * there, a reason string to skip locally, and throws under CI=true.
 */
export function skipWithoutData(): false | string {
  if (existsSync(DATA_DIR)) return false;
  if (process.env.CI === 'true') {
    throw new Error(`Test data folder not found at ${DATA_DIR} (set BACKBONES_TEST_DATA); CI requires it.`);
  }
  return `test data not found at ${DATA_DIR}`;
}

export const IMAGES = (name: string) => dataPath('images', name);
export const MODELS = (name: string) => dataPath('models', name);
