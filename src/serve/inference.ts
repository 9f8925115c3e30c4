// Where inference runs. onnxruntime-node's session.run() computes on the calling
// thread, so in the server's main thread every batch would stall HTTP, decoding
// callbacks and 503s for its whole duration. The server therefore owns one inference
// thread holding the one model (loaded once per process) and sends it batches;
// the main thread only parses, decodes and answers. inferenceInThisThread serves tests
// that already hold a model.
import { KeptBuffers } from '../buffers.js';
import { startThread } from '../spawn.js';
import { BackbonesError, type ErrorCode } from '../errors.js';
import type { RunSpec } from '../spec/spec.js';
import type { Backbone } from '../zoo/backbone.js';
import type { Answer, Ask, ModelInfo } from './compute.js';

export interface InferenceThread {
  info: ModelInfo;
  /** One batch: one ask per image, images as consecutive HWC rows of `data` (which may be transferred). */
  run(asks: Ask[], data: Float32Array): Promise<Answer[]>;
  /**
   * Room for a batch of `floats` values to fill and hand to run(): memory a finished batch
   * came back with when there is some. Why: a fresh multi-MB array per batch is zeroed, faulted
   * in and collected again, measurable CPU per request (bench/RESULTS.md §15.7).
   */
  batchBuffer(floats: number): Float32Array;
  dispose(): Promise<void>;
}

export type InferenceThreadMessage =
  | { type: 'ready'; info: ModelInfo; backend: string; header: string[] }
  | { type: 'failed'; code: ErrorCode | null; message: string; exitCode: number | null }
  | { type: 'done'; id: number; answers: Answer[]; data: Float32Array }
  | { type: 'error'; id: number; code: ErrorCode | null; message: string; data: Float32Array };

/**
 * The inference thread's young generation (V8's default lets it grow to 32 MB). Building the
 * model grows it to the full size, and it stays committed, though afterwards the thread
 * allocates little; at 4 MB serve's peak PSS under load was 30-60 MiB lower, with the
 * same load time and CPU per request (bench/RESULTS.md §15.8).
 */
const YOUNG_GENERATION_MB = 4;

export interface InferenceThreadInit {
  spec: RunSpec;
}

/** Inference on a model this thread already holds (tests, the library). */
export async function inferenceInThisThread(backbone: Backbone): Promise<InferenceThread> {
  const { computeBatch, modelInfo } = await import('./compute.js');
  return {
    info: modelInfo(backbone),
    run: (asks, data) => computeBatch(backbone, asks, data),
    batchBuffer: (floats) => new Float32Array(floats),
    dispose: async () => undefined,
  };
}

/** Starts the inference thread and loads the spec's model there; resolves once it is loaded. `onReady` gets the backend line and the run's header. */
export function startInferenceThread(spec: RunSpec, onReady: (backend: string, header: string[]) => void = () => {}): Promise<InferenceThread> {
  const thread = startThread('./inference-thread.js', import.meta.url, { spec } satisfies InferenceThreadInit, { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB });
  const pending = new Map<number, { resolve(a: Answer[]): void; reject(e: unknown): void }>();
  let nextId = 0;
  let exited = false;
  // Batch memory back from the thread, for the next batches (two cover one running, one filling).
  const kept = new KeptBuffers(2);
  return new Promise<InferenceThread>((resolve, reject) => {
    const failAll = (e: Error) => {
      for (const p of pending.values()) p.reject(e);
      pending.clear();
      reject(e);
    };
    thread.on('message', (msg: InferenceThreadMessage) => {
      if (msg.type === 'ready') {
        onReady(msg.backend, msg.header);
        resolve({
          info: msg.info,
          run(asks, data) {
            if (exited) return Promise.reject(new Error('the inference thread has stopped'));
            const id = nextId++;
            return new Promise<Answer[]>((res, rej) => {
              pending.set(id, { resolve: res, reject: rej });
              thread.postMessage({ type: 'run', id, asks, data }, [data.buffer as ArrayBuffer]);
            });
          },
          batchBuffer(floats) {
            const buffer = kept.take(floats * 4);
            return buffer ? new Float32Array(buffer, 0, floats) : new Float32Array(floats);
          },
          async dispose() {
            exited = true;
            await thread.terminate();
          },
        });
      } else if (msg.type === 'failed') {
        void thread.terminate();
        reject(new BackbonesError(msg.code ?? 'E_MODEL', msg.message, msg.exitCode === null ? undefined : { exitCode: msg.exitCode }));
      } else {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        kept.giveBack(msg.data.buffer as ArrayBuffer);
        if (msg.type === 'done') p?.resolve(msg.answers);
        else p?.reject(msg.code ? new BackbonesError(msg.code, msg.message) : new Error(msg.message));
      }
    });
    thread.on('error', (e) => failAll(new BackbonesError('E_INTERNAL', `The inference thread failed: ${e.message}`)));
    thread.on('exit', (code) => {
      exited = true;
      if (pending.size > 0 || code !== 0) failAll(new BackbonesError('E_INTERNAL', `The inference thread exited with code ${code}.`));
    });
  });
}
