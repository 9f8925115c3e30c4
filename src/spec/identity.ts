// What identifies the files a run reads: a weights file, a TF.js model (model.json and
// its shards), a labels file, an int8 model. A hash of their bytes, so that a result
// records which weights made it, not which name they were reached by. Read-only.
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BackbonesError, errorMessage } from '../errors.js';
import { isUrl } from '../weights/download.js';

/** The length of the hex prefixes recorded (64 bits: collisions are not a concern here). */
export const ID_HEX = 16;

async function hashFiles(files: string[]): Promise<string> {
  const h = createHash('sha256');
  for (const file of files) {
    h.update(`${path.basename(file)}\n`);
    await new Promise<void>((resolve, reject) => {
      createReadStream(file)
        .on('data', (chunk) => h.update(chunk))
        .on('end', () => resolve())
        .on('error', reject);
    });
  }
  return h.digest('hex').slice(0, ID_HEX);
}

/** model.json (a folder means its model.json) and every shard its manifest lists. */
async function tfjsFiles(location: string): Promise<string[]> {
  const json = statSync(location).isDirectory() ? path.join(location, 'model.json') : location;
  const manifest = (JSON.parse(await readFile(json, 'utf8')) as { weightsManifest?: Array<{ paths?: string[] }> }).weightsManifest ?? [];
  return [json, ...manifest.flatMap((group) => group.paths ?? []).map((p) => path.join(path.dirname(json), p))];
}

/**
 * The identity of weights or a model given as a path or URL: a URL is its own identity
 * (it is fetched later, into the cache); a file or TF.js model is hashed. `flag` names
 * the option in the error for a file that cannot be read.
 */
export async function fileIdentity(location: string, flag: string): Promise<string> {
  if (isUrl(location)) return location;
  try {
    const tfjs = /\.json$/i.test(location) || statSync(location).isDirectory();
    return `sha256:${await hashFiles(tfjs ? await tfjsFiles(location) : [location])}`;
  } catch (e) {
    throw new BackbonesError('E_NOT_FOUND', `${flag} ${location}: cannot read it (${errorMessage(e)}).`);
  }
}

/** sha256 of bytes already read (an int8 model), as recorded. */
export function bytesIdentity(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, ID_HEX)}`;
}

/** The sha256 hex of an int8 origin (engines report it in full), as recorded. */
export function shortIdentity(sha256: string): string {
  return `sha256:${sha256.slice(0, ID_HEX)}`;
}
