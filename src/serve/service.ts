// The model behind the server: loaded exactly once, warmed up, then fed by one
// dynamic batcher. Requests decode their images concurrently (sharp works off the
// main thread) and only decoded images enter a batch, so a bad image fails its own
// request and never its batch. Lanes keep a batch homogeneous: one lane per
// computation (classify, one layer+pool+l2 for extract, one raw output for KServe).
import { tf } from '../runtime/tf.js';
import { loadImageForModel, ImageDecodeError } from '../images/index.js';
import type { ImageSettings } from '../pipeline/batches.js';
import type { Backbone } from '../zoo/backbone.js';
import type { Prediction } from '../output/records.js';
import { classifyBatch } from '../app/classify-batch.js';
import { extractBatch, type Features } from '../app/extract-batch.js';
import { errorMessage } from '../errors.js';
import { Batcher, type BatchObserver, type Submitted } from './batcher.js';
import { HttpError, unavailable } from './http-error.js';

export type Pool = 'none' | 'avg' | 'max';

/** What one image asks for; the lane key is derived from it. */
export type Ask =
  | { kind: 'classify'; k: number }
  | { kind: 'extract'; layer: string; pool: Pool; l2: boolean }
  /** KServe: a raw output ('probabilities' or a layer name), unpooled. */
  | { kind: 'tensor'; output: string };

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export type Answer = Prediction[] | Features | Tensor;

interface Item {
  input: Float32Array;
  ask: Ask;
}

export interface Loaded {
  backbone: Backbone;
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
  observer?: BatchObserver;
}

export type State = 'loading' | 'ready' | 'failed';

const POOL_NEEDS_RANK = 3;

export class ModelService {
  state: State = 'loading';
  failure: string | null = null;
  private loaded: Loaded | null = null;
  private readonly batcher: Batcher<Item, Answer>;
  /** Seconds a client is told to wait before retrying while the model loads. */
  readonly retryAfterS = 2;

  constructor(private readonly options: ServiceOptions) {
    this.batcher = new Batcher<Item, Answer>((lane, items) => this.runBatch(lane, items), options, options.observer);
  }

  /** Loads the model and runs one warm-up inference per default lane; then ready. */
  async start(): Promise<void> {
    try {
      this.loaded = await this.options.load();
      const [h, w] = this.loaded.settings.size;
      const zeros = new Float32Array(h * w * 3);
      await this.runBatch(laneOf({ kind: 'classify', k: 1 }), [{ input: zeros, ask: { kind: 'classify', k: 1 } }]);
      const layer = this.defaultLayer;
      if (layer) {
        const ask: Ask = { kind: 'extract', layer, pool: 'none', l2: false };
        await this.runBatch(laneOf(ask), [{ input: zeros, ask }]);
      }
      this.state = 'ready';
    } catch (e) {
      this.state = 'failed';
      this.failure = errorMessage(e);
      throw e;
    }
  }

  get backbone(): Backbone {
    if (!this.loaded) throw this.notReady();
    return this.loaded.backbone;
  }

  get settings(): ImageSettings {
    if (!this.loaded) throw this.notReady();
    return this.loaded.settings;
  }

  get defaultLayer(): string | null {
    return this.options.layer ?? this.loaded?.backbone.info.featureLayer ?? null;
  }

  get queueDepth(): number {
    return this.batcher.depth;
  }

  notReady(): HttpError {
    if (this.state === 'failed') return new HttpError(500, `The model failed to load: ${this.failure}`);
    return unavailable('The model is still loading; retry shortly.', this.retryAfterS);
  }

  /** Throws 503 (loading) or 500 (load failed) unless ready. */
  assertReady(): void {
    if (this.state !== 'ready') throw this.notReady();
  }

  /** An encoded image -> the model's preprocessed input; 422 for what is not a decodable image. */
  async decode(bytes: Buffer): Promise<Float32Array> {
    if (bytes.length === 0) throw new HttpError(422, 'The body is empty; send the bytes of an image.');
    try {
      const img = await loadImageForModel(bytes, { ...this.settings, limitInputPixels: this.options.maxPixels });
      return img.input;
    } catch (e) {
      if (e instanceof ImageDecodeError) throw new HttpError(422, e.message.replace('<buffer>', 'the image'));
      throw e;
    }
  }

  /** Checks an extract request against the model before it can reach a batch. */
  checkExtract(layer: string, pool: Pool): void {
    const backbone = this.backbone;
    if (!backbone.hasLayer(layer)) throw new HttpError(400, `${backbone.name} has no layer "${layer}"; list them with \`backbones models info ${backbone.name} --layers\`.`);
    if (pool === 'none') return;
    const shape = backbone.layers().find((l) => l.name === layer)?.outputShape;
    if (shape && shape.length !== POOL_NEEDS_RANK) {
      throw new HttpError(400, `pool=${pool} needs a spatial layer [h, w, c]; ${layer} gives [${shape.join(', ')}].`);
    }
  }

  /** Queues one decoded image; the answer comes when its batch has run. */
  submit(input: Float32Array, ask: Ask): Submitted<Answer> {
    return this.batcher.submit(laneOf(ask), { input, ask });
  }

  /** Runs what is queued without waiting for fuller batches; resolves once nothing waits and nothing runs. */
  drain(): Promise<void> {
    return this.batcher.drain();
  }

  private async runBatch(lane: string, items: Item[]): Promise<Answer[]> {
    const { backbone, settings } = this.loaded!;
    const [h, w] = settings.size;
    const data = new Float32Array(items.length * h * w * 3);
    items.forEach((item, i) => data.set(item.input, i * h * w * 3));
    const batch = tf.tensor4d(data, [items.length, h, w, 3]);
    try {
      const ask = items[0]!.ask;
      if (ask.kind === 'classify') {
        // Top-k is sorted, so the largest k asked serves every smaller one as a prefix.
        const k = Math.max(...items.map((i) => (i.ask as { k: number }).k));
        const rows = await classifyBatch(backbone, batch, k);
        return rows.map((row, i) => row.slice(0, (items[i]!.ask as { k: number }).k));
      }
      if (ask.kind === 'extract') return await extractBatch(backbone, batch, ask.layer, ask.pool, ask.l2);
      const out = ask.output === 'probabilities' ? await backbone.probabilities(batch) : await backbone.features(batch, ask.output);
      const values = (await out.data()) as Float32Array;
      const shape = out.shape.slice(1);
      out.dispose();
      const size = values.length / items.length;
      return items.map((_, i) => ({ shape, data: values.slice(i * size, (i + 1) * size) }));
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(500, `Inference failed: ${errorMessage(e)}`);
    } finally {
      batch.dispose();
    }
  }
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
