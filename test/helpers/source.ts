// The project's TypeScript sources, for the tests that read the code itself (structure, names).
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './data.js';

export const SRC = path.join(REPO_ROOT, 'src');

/** Every .ts file below `dir` (declaration files left out). */
export function sourceFiles(dir: string = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}
