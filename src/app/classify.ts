// classify: top-k labels for every image.
import { BackbonesError } from '../errors.js';
import { executeRun, prepareRun, type ImageRunOptions } from './images-run.js';

export { classifyBatch } from './classify-batch.js';

export interface ClassifyOptions extends ImageRunOptions {
  topK: number;
}

export async function runClassify(inputs: string[], o: ClassifyOptions): Promise<number> {
  const format = o.format ?? (o.output || !process.stdout.isTTY ? 'jsonl' : 'table');
  if (format === 'npy') throw new BackbonesError('E_USAGE', '--format npy is for extract; classify writes table, jsonl, json or csv.');
  const prepared = await prepareRun(inputs, { ...o, format: o.format ?? (o.output ? undefined : format) }, 'classify', 'jsonl');
  return executeRun(prepared, o, { kind: 'classify', topK: o.topK });
}
