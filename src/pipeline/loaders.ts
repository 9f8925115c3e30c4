// Where images are decoded and preprocessed: in this thread, or in the decode pool
// (decode-pool.ts). The prefetch queue (prefetch.ts) drives either through this interface.
import { decodeOne, type DecodedItem, type DecodeSource, type ImageSettings } from './decode-one.js';

export interface ImageLoader {
  /** Decode threads; 0 = this thread (sharp still decodes on libuv's threads). */
  readonly threads: number;
  /** Never rejects: a failure is an item with `error`. */
  load(entry: DecodeSource): Promise<DecodedItem>;
  /** Kernel thread ids of the decode threads (for their CPU time); empty when unknown. */
  threadIds(): number[];
  close(): Promise<void>;
}

export function inThreadLoader(settings: ImageSettings): ImageLoader {
  return {
    threads: 0,
    load: (entry) => decodeOne(entry, settings),
    threadIds: () => [],
    close: async () => {},
  };
}
