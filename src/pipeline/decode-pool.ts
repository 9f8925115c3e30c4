// The decode pool: threads that decode (sharp), resize (our JavaScript kernels)
// and preprocess images, so the main thread only stacks batches and runs the engine.
// Each job goes to the thread with the fewest outstanding jobs; a thread that dies
// fails its outstanding jobs (as error items, never the run) and is replaced.
import { startThread, type Thread } from '../spawn.js';
import type { DecodedItem, DecodeSource, ImageSettings } from './decode-one.js';
import type { ImageLoader } from './loaders.js';
import { threadPlan } from './decode-threads.js';
import os from 'node:os';

export interface DecodeJob {
  id: number;
  entry: DecodeSource;
}

export type DecodeReply = { type: 'ready'; tid: number | null } | { type: 'done'; id: number; item: DecodedItem };

interface Slot {
  thread: Thread;
  tid: number | null;
  pending: Map<number, { entry: DecodeSource; resolve: (item: DecodedItem) => void }>;
}

/** Starts `threads` decode threads and waits until each is ready. */
export async function startDecodePool(threads: number, settings: ImageSettings): Promise<ImageLoader> {
  let nextId = 0;
  let closing = false;
  const slots: Slot[] = [];

  const spawn = (): Promise<Slot> =>
    new Promise((resolve, reject) => {
      const libvipsThreads = threadPlan({ cores: os.availableParallelism(), decodeThreads: threads }).libvipsThreads;
      const slot: Slot = { thread: startThread('./decode-thread.js', import.meta.url, { settings, libvipsThreads }), tid: null, pending: new Map() };
      let ready = false;
      slot.thread.on('message', (msg: DecodeReply) => {
        if (msg.type === 'ready') {
          ready = true;
          slot.tid = msg.tid;
          resolve(slot);
          return;
        }
        const job = slot.pending.get(msg.id);
        slot.pending.delete(msg.id);
        job?.resolve(msg.item);
      });
      const fail = (why: string) => {
        if (!ready) return reject(new Error(`a decode thread could not start: ${why}`));
        for (const { entry, resolve: done } of slot.pending.values()) done({ path: entry.path, error: `decode thread failed: ${why}` });
        slot.pending.clear();
        const i = slots.indexOf(slot);
        if (closing || i < 0) return;
        slots.splice(i, 1);
        void spawn().then((s) => slots.push(s), () => {});
      };
      slot.thread.on('error', (e) => fail(e.message));
      slot.thread.on('exit', (code) => {
        if (code !== 0) fail(`exited with code ${code}`);
      });
    });

  slots.push(...(await Promise.all(Array.from({ length: Math.max(1, threads) }, spawn))));

  return {
    threads: slots.length,
    load(entry: DecodeSource): Promise<DecodedItem> {
      if (entry.error) return Promise.resolve({ path: entry.path, error: entry.error });
      if (slots.length === 0) return Promise.resolve({ path: entry.path, error: 'no decode thread is running' });
      const slot = slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      const id = nextId++;
      return new Promise((resolve) => {
        // In-memory bytes travel without a second copy: moved when the caller hands over a
        // buffer of their own, else as a private copy (a request body may be a view into a
        // pooled or shared buffer that must not be moved).
        const { bytes, handOver, ...rest } = entry;
        const whole = bytes !== undefined && handOver === true && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !(bytes.buffer instanceof SharedArrayBuffer);
        const job: DecodeJob = bytes ? { id, entry: { ...rest, bytes: whole ? bytes : new Uint8Array(bytes) } } : { id, entry: rest };
        slot.pending.set(id, { entry: { path: entry.path }, resolve });
        slot.thread.postMessage(job, job.entry.bytes ? [job.entry.bytes.buffer as ArrayBuffer] : []);
      });
    },
    threadIds: () => slots.map((s) => s.tid).filter((t): t is number => t !== null),
    async close() {
      closing = true;
      await Promise.all(slots.map((s) => s.thread.terminate()));
    },
  };
}
