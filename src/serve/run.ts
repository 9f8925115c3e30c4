// `backbones serve`: listen at once, load the model once in the background (ready
// after a warm-up inference), serve until SIGTERM/SIGINT, then stop accepting,
// finish what is queued (up to --grace-ms) and exit 0.
import path from 'node:path';
import { BackbonesError, EXIT } from '../errors.js';
import { log } from '../log.js';
import { isModelPath } from '../zoo/registry.js';
import { VERSION } from '../version.js';
import { resolveSpec, type SpecOptions } from '../spec/spec.js';
import { imageSettingsOf } from '../spec/load.js';
import { startInferenceThread } from './inference.js';
import { ServeMetrics } from './metrics.js';
import { ModelService, type Loaded } from './service.js';
import { buildServer } from './server.js';
import { TrimAfterBursts, trimAllocator, tuneAllocatorForServing } from '../images/allocator.js';

const TRIM_EVERY_MS = 1000;

/** serve: the spec's options (--layer is extract's default layer) and the server's own. */
export interface ServeOptions extends SpecOptions {
  port: number;
  host: string;
  name?: string;
  maxBatch: number;
  maxDelayMs: number;
  maxQueue: number;
  timeoutMs: number;
  maxBodyMb: number;
  maxPixels: number;
  decodeConcurrency?: number;
  apiKey?: string;
  graceMs: number;
  logLevel: string;
  /** --search STORE: the vector store behind POST /v1/search. */
  search?: string;
}

/** The name /v2/models/{name} answers to: the zoo name, or the model's folder name. */
export function servedName(spec: string): string {
  if (!isModelPath(spec)) return spec.toLowerCase();
  const trimmed = spec.replace(/[\\/]+$/, '');
  const base = path.basename(trimmed);
  return /\.json$/i.test(base) ? path.basename(path.dirname(trimmed)) || base : base;
}

/** Why the server cannot listen: the machine's state (exit 1), or a --host that names no address (exit 2). */
export function listenError(e: NodeJS.ErrnoException, host: string, port: number): BackbonesError {
  const at = `${host}:${port}`;
  switch (e.code) {
    case 'EADDRINUSE':
      return new BackbonesError('E_LISTEN', `Port ${port} on ${host} is already in use (another server?): stop it or choose another --port.`);
    case 'EACCES':
      return new BackbonesError('E_LISTEN', `Not allowed to listen on ${at} (ports below 1024 need privileges): choose another --port.`);
    case 'EADDRNOTAVAIL':
      return new BackbonesError('E_LISTEN', `Cannot listen on ${at}: ${host} is not an address of this machine (--host).`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new BackbonesError('E_USAGE', `Cannot listen on ${at}: --host ${host} is not an address or a known host name.`);
  }
  return new BackbonesError('E_LISTEN', `Cannot listen on ${at}: ${e.message}`);
}

export async function runServe(o: ServeOptions): Promise<number> {
  // Every check before the server listens.
  const spec = await resolveSpec(o, { defaultLayer: true, batch: { flag: '--max-batch', sizes: [o.maxBatch] } });
  // --search: the store opens (and its model is checked) before the server listens.
  const search = o.search ? await (await import('./search-store.js')).openSearchStore(o.search, spec) : undefined;
  // Before any thread starts: memory a burst of big images freed goes back to the system.
  tuneAllocatorForServing();
  const metrics = new ServeMetrics();
  const load = async (): Promise<Loaded> => {
    // The inference thread loads the model once; this thread never holds a copy.
    let header: string[] = [];
    const inference = await startInferenceThread(spec, (backend, lines) => {
      log.info(`backend: ${backend}`);
      header = lines;
    });
    const info = inference.info;
    log.info(`model: ${info.name} ${info.inputSize.join('x')}, preprocess ${info.preprocess}, weights ${info.weights}`);
    for (const line of header) log.info(line);
    if (info.randomWeights) log.warn('random weights: outputs are not meaningful predictions.');
    const settings = imageSettingsOf(spec, info);
    if (search) {
      try {
        (await import('./search-store.js')).checkServedModel(search, info.spec);
      } catch (e) {
        await inference.dispose();
        throw e;
      }
    }
    return { inference, settings };
  };
  // Once a burst of images is over: what it left in the allocator's free lists goes back
  // to the system (bench/RESULTS.md §15, §15.8).
  const trims = new TrimAfterBursts();
  const service = new ModelService({
    load,
    maxBatch: o.maxBatch,
    maxDelayMs: o.maxDelayMs,
    maxPixels: o.maxPixels,
    decodeConcurrency: o.decodeConcurrency,
    decodeThreads: spec.run.decodeThreads,
    onDecoded: (t) => {
      trims.decoded();
      metrics.decoded(t);
    },
    layer: spec.defaultLayer,
    observer: metrics.observer,
  });
  const app = await buildServer({
    service,
    metrics,
    modelName: o.name ?? servedName(o.model ?? spec.model),
    version: VERSION,
    maxQueue: o.maxQueue,
    timeoutMs: o.timeoutMs,
    maxBodyBytes: Math.round(o.maxBodyMb * 1024 * 1024),
    apiKey: o.apiKey,
    logLevel: o.logLevel,
    search,
  });
  if (!o.apiKey && !['127.0.0.1', 'localhost', '::1'].includes(o.host)) {
    log.warn(`listening on ${o.host} without --api-key: anyone who can reach this port can use the model.`);
  }
  try {
    await app.listen({ port: o.port, host: o.host });
  } catch (e) {
    throw listenError(e as NodeJS.ErrnoException, o.host, o.port);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  log.info(`listening on http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port} (live now; ready once the model is loaded)`);

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

  const trimmer = setInterval(() => {
    if (trims.tick()) trimAllocator();
  }, TRIM_EVERY_MS);
  trimmer.unref();
  try {
    const t0 = performance.now();
    await service.start();
    log.info(`ready: ${service.info.name} on ${service.info.engineName}, loaded and warmed up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    if (!stopping) {
      await app.close();
      await service.dispose();
      throw e;
    }
  }
  await stopped;
  clearInterval(trimmer);
  await service.dispose();
  search?.store.close();
  log.info('stopped.');
  return EXIT.ok;
}
