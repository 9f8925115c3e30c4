// `backbones serve`: listen at once, load the model once in the background (ready
// after a warm-up inference), serve until SIGTERM/SIGINT, then stop accepting,
// finish what is queued (up to --grace-ms) and exit 0.
import path from 'node:path';
import { createRequire } from 'node:module';
import { initBackend, parseBackendRequest } from '../runtime/backend.js';
import { BackbonesError, EXIT } from '../errors.js';
import { log } from '../log.js';
import { isModelPath, loadBackbone, modelSelection, type ModelSelection } from '../zoo/load.js';
import type { Interpolation, ResizeMode } from '../zoo/card.js';
import { imageSettings } from '../app/images-run.js';
import { ServeMetrics } from './metrics.js';
import { ModelService, type Loaded } from './service.js';
import { buildServer } from './server.js';

export interface ServeOptions extends ModelSelection {
  backend: string;
  threads?: number;
  model: string;
  layer?: string;
  resize?: ResizeMode;
  interpolation?: Interpolation;
  background: string;
  kerasCompat?: boolean;
  port: number;
  host: string;
  name?: string;
  maxBatch: number;
  maxDelayMs: number;
  maxQueue: number;
  timeoutMs: number;
  maxBodyMb: number;
  maxPixels: number;
  apiKey?: string;
  graceMs: number;
  logLevel: string;
}

/** The name /v2/models/{name} answers to: the zoo name, or the model's folder name. */
export function servedName(spec: string): string {
  if (!isModelPath(spec)) return spec.toLowerCase();
  const trimmed = spec.replace(/[\\/]+$/, '');
  const base = path.basename(trimmed);
  return /\.json$/i.test(base) ? path.basename(path.dirname(trimmed)) || base : base;
}

const require = createRequire(import.meta.url);
const VERSION: string = (require('../../package.json') as { version: string }).version;

export async function runServe(o: ServeOptions): Promise<number> {
  const metrics = new ServeMetrics();
  const load = async (): Promise<Loaded> => {
    const choice = await initBackend(parseBackendRequest(o.backend), { threads: o.threads });
    log.info(`backend: ${choice.label} (${choice.reason})`);
    const backbone = await loadBackbone(o.model, modelSelection(o));
    const info = backbone.info;
    log.info(`model: ${info.name} ${info.inputSize.join('x')}, preprocess ${info.preprocess}, weights ${info.weights.description}`);
    if (info.weights.kind === 'random') log.warn('random weights: outputs are not meaningful predictions.');
    return { backbone, settings: imageSettings(info, o) };
  };
  const service = new ModelService({
    load,
    maxBatch: o.maxBatch,
    maxDelayMs: o.maxDelayMs,
    maxPixels: o.maxPixels,
    layer: o.layer,
    observer: metrics.observer,
  });
  const app = await buildServer({
    service,
    metrics,
    modelName: o.name ?? servedName(o.model),
    version: VERSION,
    maxQueue: o.maxQueue,
    timeoutMs: o.timeoutMs,
    maxBodyBytes: Math.round(o.maxBodyMb * 1024 * 1024),
    apiKey: o.apiKey,
    logLevel: o.logLevel,
  });
  if (!o.apiKey && !['127.0.0.1', 'localhost', '::1'].includes(o.host)) {
    log.warn(`listening on ${o.host} without --api-key: anyone who can reach this port can use the model.`);
  }
  try {
    await app.listen({ port: o.port, host: o.host });
  } catch (e) {
    throw new BackbonesError('E_USAGE', `Cannot listen on ${o.host}:${o.port}: ${(e as Error).message}`);
  }

  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: no new requests; finishing the queued requests (up to ${o.graceMs} ms).`);
      const grace = setTimeout(() => {
        log.warn(`grace period of ${o.graceMs} ms over; exiting with requests unfinished.`);
        process.exit(EXIT.ok);
      }, o.graceMs);
      grace.unref();
      // close() stops accepting and waits for the requests in flight; drain() stops
      // their images waiting for fuller batches.
      void Promise.all([app.close(), service.drain()])
        .then(() => {
          clearTimeout(grace);
          resolve();
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });

  try {
    const t0 = performance.now();
    await service.start();
    log.info(`ready: ${service.backbone.name} on ${service.backbone.engineName}, loaded and warmed up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    if (!stopping) {
      await app.close();
      throw e;
    }
  }
  await stopped;
  if (service.state === 'ready') service.backbone.dispose();
  log.info('stopped.');
  return EXIT.ok;
}
