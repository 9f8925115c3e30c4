// extract: the output of a named layer for every image, as one vector each (the spec
// resolves the layer, and checks it and --pool against the loaded model).
import { runImages, type ImageRunOptions } from './images-run.js';

export async function runExtract(inputs: string[], o: ImageRunOptions): Promise<number> {
  return runImages(inputs, o, 'extract', 'jsonl');
}
