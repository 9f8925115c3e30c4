// The model behind the server: loaded exactly once (in the inference thread, see
// inference.ts), warmed up, then fed by one dynamic batcher. Request images are decoded,
// resized and preprocessed in the decode pool's threads (the CLI's, pipeline/decode-pool.ts),
// so the main thread only speaks HTTP: no JavaScript resize and no garbage collection of
// full-size pixels between a request and its answer. Only decoded images enter a batch,
// so a bad image fails its own request and never its batch. Lanes keep a
// batch homogeneous: one lane per computation (classify, one layer+pool+l2 for
// extract, one raw output for KServe).
import { startDecodePool } from '../pipeline/decode-pool.js';
import { defaultDecodeThreads } from '../pipeline/decode-threads.js';
import { inThreadLoader, type ImageLoader } from '../pipeline/loaders.js';
import type { StageTimings } from '../pipeline/decode-one.js';
import { Limiter } from './limiter.js';
import { layerProblem } from '../tasks/layers.js';
import type { ImageSettings } from '../pipeline/batches.js';
import { BackbonesError, errorMessage } from '../errors.js';
import { Batcher, type BatchObserver, type Submitted } from './batcher.js';
import { HttpError, unavailable } from './http-error.js';
import type { Answer, Ask, ModelInfo } from './compute.js';
import type { Pooling } from '../zoo/card.js';
import type { InferenceThread } from './inference.js';

export type { Answer, Ask, Tensor } from './compute.js';

interface Item {
  input: Float32Array;
  ask: Ask;
  /** The values came from the client (a KServe FP32 tensor), not from decoding an image here. */
  clientTensor?: boolean;
}

export interface Loaded {
  inference: InferenceThread;
  settings: ImageSettings;
}

export interface ServiceOptions {
  /** Loads the model once (backend start included); called by start(). */
  load: () => Promise<Loaded>;
  maxBatch: number;
  maxDelayMs: number;
  /** Decompression-bomb guard for request images (width x height). */
  maxPixels: number;
  /** extract's default layer (--layer); else the card's feature layer. */
  layer?: string;
  /** Decode threads; 0 = the main thread (sharp still decodes on libuv's threads). Default: every core (threadPlan). */
  decodeThreads?: number;
  /** Images decoded at once (default: 2 per decode thread, each runs two). */
  decodeConcurrency?: number;
  observer?: BatchObserver;
  /** Called with each decoded image's stage times. */
  onDecoded?: (timings: StageTimings) => void;
}

export type State = 'loading' | 'ready' | 'failed';

export class ModelService {
  state: State = 'loading';
  failure: string | null = null;
  private loaded: Loaded | null = null;
  private readonly batcher: Batcher<Item, Answer>;
  private decoding: Limiter | null = null;
  private loader: ImageLoader | null = null;
  /** Seconds a client is told to wait before retrying while the model loads. */
  readonly retryAfterS = 2;

  constructor(private readonly options: ServiceOptions) {
    this.batcher = new Batcher<Item, Answer>((_lane, items) => this.runBatch(items), options, options.observer);
  }

  /** Loads the model and runs one warm-up inference per default lane; then ready. */
  async start(): Promise<void> {
    try {
      this.loaded = await this.options.load();
      const threads = this.options.decodeThreads ?? defaultDecodeThreads();
      const settings = { ...this.loaded.settings, limitInputPixels: this.options.maxPixels };
      this.loader = threads > 0 ? await startDecodePool(threads, settings) : inThreadLoader(settings);
      this.decoding = new Limiter(this.options.decodeConcurrency ?? 2 * Math.max(1, threads));
      const layer = this.defaultLayer;
      const problem = layer ? layerProblem(this.info, layer, 'none') : null;
      if (problem) throw new BackbonesError('E_USAGE', problem);
      const [h, w] = this.loaded.settings.size;
      const zeros = () => new Float32Array(h * w * 3);
      const warmUp = async (ask: Ask) => {
        const [result] = await this.runBatch([{ input: zeros(), ask }]);
        if (result instanceof Error) throw result;
      };
      await warmUp({ kind: 'classify', k: 1 });
      if (layer) await warmUp({ kind: 'extract', layer, pool: 'none', l2: false });
      this.state = 'ready';
    } catch (e) {
      this.state = 'failed';
      this.failure = errorMessage(e);
      throw e;
    }
  }

  get info(): ModelInfo {
    if (!this.loaded) throw this.notReady();
    return this.loaded.inference.info;
  }

  get settings(): ImageSettings {
    if (!this.loaded) throw this.notReady();
    return this.loaded.settings;
  }

  get defaultLayer(): string | null {
    return this.options.layer ?? this.loaded?.inference.info.featureLayer ?? null;
  }

  hasLayer(name: string): boolean {
    return this.info.layers.some((l) => l.name === name);
  }

  notReady(): HttpError {
    if (this.state === 'failed') return new HttpError(500, `The model failed to load: ${this.failure}`);
    return unavailable('The model is still loading; retry shortly.', this.retryAfterS);
  }

  /** Throws 503 (loading) or 500 (load failed) unless ready. */
  assertReady(): void {
    if (this.state !== 'ready') throw this.notReady();
  }

  /**
   * An encoded image -> the model's preprocessed input; 422 for what is not a decodable image.
   * Takes `bytes`: a buffer of their own moves to the decode thread and is empty afterwards.
   */
  async decode(bytes: Buffer): Promise<Float32Array> {
    if (bytes.length === 0) throw new HttpError(422, 'The body is empty; send the bytes of an image.');
    const { loader, decoding } = this;
    if (!loader || !decoding) throw this.notReady();
    const item = await decoding.run(() => loader.load({ path: '<buffer>', bytes, handOver: true }));
    if (item.input) {
      if (item.timings) this.options.onDecoded?.(item.timings);
      return item.input;
    }
    const message = (item.error ?? 'the image could not be decoded').replace('<buffer>', 'the image');
    if (item.badImage) throw new HttpError(422, message);
    throw new HttpError(500, `Decoding failed: ${message}`);
  }

  /** Checks an extract request against the model before it can reach a batch. */
  checkExtract(layer: string, pool: Pooling): void {
    const problem = layerProblem(this.info, layer, pool, `pool=${pool}`);
    if (problem) throw new HttpError(400, problem);
  }

  /** Queues one decoded image (or a client's tensor row); the answer comes when its batch has run. */
  submit(input: Float32Array, ask: Ask, o: { clientTensor?: boolean } = {}): Submitted<Answer> {
    return this.batcher.submit(laneOf(ask), { input, ask, clientTensor: o.clientTensor });
  }

  /** Runs what is queued without waiting for fuller batches; resolves once nothing waits and nothing runs. */
  drain(): Promise<void> {
    return this.batcher.drain();
  }

  async dispose(): Promise<void> {
    await this.loader?.close();
    await this.loaded?.inference.dispose();
  }

  private async runBatch(items: Item[]): Promise<(Answer | HttpError)[]> {
    try {
      return await this.run(items);
    } catch (e) {
      // Non-finite outputs (E_MODEL from tasks/finite.ts) fail the whole batch, but one
      // client tensor of huge values can cause them: each row then runs alone, so only
      // its own request fails, and a client's tensor is the client's fault (400).
      if (!nonFinite(e)) throw new HttpError(500, `Inference failed: ${errorMessage(e)}`);
      if (items.length === 1) return [this.blame(items[0]!, e)];
      const out: (Answer | HttpError)[] = [];
      for (const item of items) {
        try {
          out.push((await this.run([item]))[0]!);
        } catch (alone) {
          out.push(this.blame(item, alone));
        }
      }
      return out;
    }
  }

  private blame(item: Item, e: unknown): HttpError {
    if (item.clientTensor && nonFinite(e)) {
      return new HttpError(400, `The model's outputs for this FP32 input are not finite (NaN or Infinity): its values are far outside what preprocess "${this.settings.preprocess}" produces.`);
    }
    return new HttpError(500, `Inference failed: ${errorMessage(e)}`);
  }

  private run(items: Item[]): Promise<Answer[]> {
    const { inference, settings } = this.loaded!;
    const [h, w] = settings.size;
    const size = h * w * 3;
    const data = inference.batchBuffer(items.length * size);
    items.forEach((item, i) => data.set(item.input, i * size));
    return inference.run(items.map((i) => i.ask), data);
  }
}

/** E_MODEL while running a batch: tasks/finite.ts found NaN or Infinity in the outputs. (By code, not class: tests load the inference thread from dist/.) */
function nonFinite(e: unknown): boolean {
  return e instanceof Error && (e as { code?: unknown }).code === 'E_MODEL';
}

function laneOf(ask: Ask): string {
  switch (ask.kind) {
    case 'classify':
      return 'classify';
    case 'extract':
      return `extract\n${ask.layer}\n${ask.pool}\n${ask.l2}`;
    case 'tensor':
      return `tensor\n${ask.output}`;
  }
}
