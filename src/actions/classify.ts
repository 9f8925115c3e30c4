// classify: top-k labels for every image.
import { runImages, type ImageRunOptions } from './images-run.js';

export async function runClassify(inputs: string[], o: ImageRunOptions): Promise<number> {
  // Without --format or a telling -o extension: a table for a person, JSONL for a pipe or a file.
  return runImages(inputs, o, 'classify', o.output || !process.stdout.isTTY ? 'jsonl' : 'table');
}
