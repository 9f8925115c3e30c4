// The server's inference thread: starts the backend, loads the model once, then runs
// the batches the main thread sends, one at a time, in order.
import { parentPort, workerData } from 'node:worker_threads';
import { configureLog } from '../log.js';
import { BackbonesError, errorMessage } from '../errors.js';
import { startEngine, engineLine } from '../engines/select.js';
import { headerLines, loadForSpec, recordOf } from '../spec/load.js';
import { computeBatch, modelInfo, type Ask } from './compute.js';
import type { InferenceThreadInit, InferenceThreadMessage } from './inference.js';

const init = workerData as InferenceThreadInit;
const port = parentPort!;
const post = (msg: InferenceThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

configureLog({ quiet: true });
try {
  const engine = await startEngine(init.spec.engine);
  const backbone = await loadForSpec(init.spec, engine);
  // Create the ONNX session now, so "loaded" means ready to run (and the int8 model is known).
  await backbone.prepare(init.spec.defaultLayer ? [init.spec.defaultLayer] : []);
  // Batches run strictly one after another (messages are queued; each awaits the last).
  let last: Promise<void> = Promise.resolve();
  port.on('message', (msg: { type: 'run'; id: number; asks: Ask[]; data: Float32Array }) => {
    last = last.then(async () => {
      // The batch's memory goes back with the answer, for the main thread's next batch.
      const back = [msg.data.buffer as ArrayBuffer];
      try {
        post({ type: 'done', id: msg.id, answers: await computeBatch(backbone, msg.asks, msg.data), data: msg.data }, back);
      } catch (e) {
        post({ type: 'error', id: msg.id, code: e instanceof BackbonesError ? e.code : null, message: errorMessage(e), data: msg.data }, back);
      }
    });
  });
  post({ type: 'ready', info: modelInfo(backbone, recordOf(init.spec, backbone)), backend: engineLine(engine.choice), header: headerLines(init.spec, backbone) });
} catch (e) {
  post({
    type: 'failed',
    code: e instanceof BackbonesError ? e.code : null,
    message: errorMessage(e),
    exitCode: e instanceof BackbonesError ? e.exitCode : null,
  });
}
