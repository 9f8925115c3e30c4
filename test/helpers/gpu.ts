// A PATH without nvidia-smi, and a fake nvidia-smi put first on PATH.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** node's own directory and the system bins: no nvidia-smi anywhere. */
export const PATH_WITHOUT_GPU = [path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter);

/** Writes `script` (a /bin/sh body) as an executable nvidia-smi; returns a PATH that finds it first. */
export function pathWithFakeNvidiaSmi(script: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fake-smi-'));
  const smi = path.join(dir, 'nvidia-smi');
  writeFileSync(smi, `#!/bin/sh\n${script}`);
  chmodSync(smi, 0o755);
  return dir + path.delimiter + PATH_WITHOUT_GPU;
}
