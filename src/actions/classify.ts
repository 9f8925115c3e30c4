// classify: top-k labels for every image.
import { executeRun, prepareRun, type ImageRunOptions } from './images-run.js';

export interface ClassifyOptions extends ImageRunOptions {
  topK: number;
}

export async function runClassify(inputs: string[], o: ClassifyOptions): Promise<number> {
  // Without --format or a telling -o extension: a table for a person, JSONL for a pipe or a file.
  const prepared = await prepareRun(inputs, o, 'classify', o.output || !process.stdout.isTTY ? 'jsonl' : 'table');
  if ('exitCode' in prepared) return prepared.exitCode;
  return executeRun(prepared, o, { kind: 'classify', topK: o.topK });
}
