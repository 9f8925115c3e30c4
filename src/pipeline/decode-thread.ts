// One decode-pool thread: decodes, resizes and preprocesses the files it is sent, two
// at a time (one in sharp while the other runs the JavaScript resize), in order.
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { decodeOne, type ImageSettings } from './decode-one.js';
import { currentThreadId } from '../monitor/threads.js';
import type { DecodeJob, DecodeReply } from './decode-pool.js';

const { settings, libvipsThreads } = workerData as { settings: ImageSettings; libvipsThreads: number };
// The pool is the parallelism: one libvips thread per image (threadPlan).
sharp.concurrency(libvipsThreads);
const port = parentPort!;
const CONCURRENCY = 2;
const queue: DecodeJob[] = [];
let running = 0;

function pump(): void {
  while (running < CONCURRENCY && queue.length > 0) {
    const job = queue.shift()!;
    running += 1;
    void decodeOne(job.entry, settings).then((item) => {
      running -= 1;
      const reply: DecodeReply = { type: 'done', id: job.id, item };
      // Hand the pixels over without copying.
      port.postMessage(reply, item.input ? [item.input.buffer as ArrayBuffer] : []);
      pump();
    });
  }
}

port.on('message', (job: DecodeJob) => {
  queue.push(job);
  pump();
});
port.postMessage({ type: 'ready', tid: currentThreadId() } satisfies DecodeReply);
