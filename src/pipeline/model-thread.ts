// One --workers thread: its own backend and model; runs the batches it is sent.
import { parentPort, workerData } from 'node:worker_threads';
import { configureLog } from '../log.js';
import { errorMessage } from '../errors.js';
import { startEngine } from '../engines/select.js';
import { loadForSpec } from '../spec/load.js';
import { computeFor } from '../tasks/task.js';
import { runBatches } from './batches.js';
import type { InputEntry } from '../images/inputs.js';
import type { ModelThreadInit, ModelThreadItem, ModelThreadMessage } from './model-threads.js';

const init = workerData as ModelThreadInit;
const port = parentPort!;
const post = (msg: ModelThreadMessage) => port.postMessage(msg);

configureLog({ quiet: true });
try {
  const engine = await startEngine(init.spec.engine);
  // The parent already fetched the weights: never download from a model thread.
  const backbone = await loadForSpec(init.spec, engine, { allowDownload: false });
  const compute = computeFor(init.task, backbone);
  port.on('message', async (msg: { type: 'job'; id: number; entries: InputEntry[] }) => {
    const items: ModelThreadItem[] = [];
    const stats = await runBatches(msg.entries, init.settings, init.spec.run.batchSize, compute, (item, result) => {
      items.push(result === undefined ? { path: item.path, error: item.error ?? 'no result' } : { path: item.path, result });
    }, { prefetchBytes: init.prefetchBytes });
    post({ type: 'done', id: msg.id, items, inferenceMs: stats.inferenceMs });
  });
  post({ type: 'ready' });
} catch (e) {
  post({ type: 'failed', error: errorMessage(e) });
}
