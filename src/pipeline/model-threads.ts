// --workers N: N model threads, each with its own TensorFlow.js backend and model
// copy, take batches from a queue; results come back in input order. This is how a
// single-threaded backend (tfjs wasm runs one thread in Node) uses every core.
import { startThread, type Thread } from '../spawn.js';
import { BackbonesError } from '../errors.js';
import type { RunSpec } from '../spec/spec.js';
import type { Task, TaskResult } from '../tasks/task.js';
import type { ImageSettings, BatchStats } from './batches.js';
import type { InputEntry } from '../images/inputs.js';

export interface ModelThreadInit {
  /** The run's spec: each model thread starts its engine and loads its model from it. */
  spec: RunSpec;
  settings: ImageSettings;
  task: Task;
  /** Prefetch budget of each model thread's own decoding, bytes. */
  prefetchBytes?: number;
}

export interface ModelThreadItem {
  path: string;
  error?: string;
  result?: TaskResult;
}

export type ModelThreadMessage =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'done'; id: number; items: ModelThreadItem[]; inferenceMs: number };

export async function runInModelThreads(
  entries: InputEntry[],
  options: { settings: ImageSettings; task: Task; spec: RunSpec; prefetchBytes?: number },
  emit: (item: ModelThreadItem, result: TaskResult | undefined) => void,
): Promise<BatchStats> {
  const chunks: InputEntry[][] = [];
  const { batchSize } = options.spec.run;
  for (let i = 0; i < entries.length; i += batchSize) chunks.push(entries.slice(i, i + batchSize));
  const count = Math.max(1, Math.min(options.spec.run.workers, chunks.length));
  const init: ModelThreadInit = { spec: options.spec, settings: options.settings, task: options.task, prefetchBytes: options.prefetchBytes };
  const stats: BatchStats = { images: 0, failed: 0, inferenceMs: 0 };
  const finished = new Map<number, ModelThreadItem[]>();
  let nextJob = 0;
  let nextEmit = 0;

  const threads = Array.from({ length: count }, () => startThread('./model-thread.js', import.meta.url, init));
  try {
    await new Promise<void>((resolve, reject) => {
      let ready = 0;
      const dispatch = (w: Thread) => {
        if (nextJob < chunks.length) {
          const id = nextJob++;
          w.postMessage({ type: 'job', id, entries: chunks[id] });
        }
      };
      const flush = () => {
        while (finished.has(nextEmit)) {
          for (const item of finished.get(nextEmit)!) {
            stats.images += 1;
            if (item.result === undefined) stats.failed += 1;
            try {
              emit(item, item.result);
            } catch (e) {
              // The caller stopped the run (e.g. the model gives NaN): end it, not the process.
              nextEmit = chunks.length;
              return reject(e);
            }
          }
          finished.delete(nextEmit++);
        }
        if (nextEmit === chunks.length) resolve();
      };
      for (const w of threads) {
        w.on('message', (msg: ModelThreadMessage) => {
          if (msg.type === 'failed') reject(new BackbonesError('E_MODEL', `A model thread (--workers) could not start: ${msg.error}`));
          else if (msg.type === 'ready') {
            ready += 1;
            dispatch(w);
          } else {
            stats.inferenceMs += msg.inferenceMs;
            finished.set(msg.id, msg.items);
            flush();
            dispatch(w);
          }
        });
        w.on('error', (e) => reject(new BackbonesError('E_INTERNAL', `A model thread (--workers) failed: ${e.message}`)));
        w.on('exit', (code) => {
          if (code !== 0 && nextEmit < chunks.length) reject(new BackbonesError('E_INTERNAL', `A model thread (--workers) exited with code ${code}.`));
        });
      }
      if (chunks.length === 0) resolve();
      void ready;
    });
  } finally {
    await Promise.all(threads.map((w) => w.terminate()));
  }
  return stats;
}
