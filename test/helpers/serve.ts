// Real `serve` servers for the serve tests: fastify on a random port of 127.0.0.1 in
// front of the real MobileNet v1 0.25 (loaded once per test file, in this thread, or
// in the server's own inference thread as `backbones serve` does), closed after the file.
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { IMAGES, REPO_ROOT, skipWithoutData } from './data.js';
import { cacheWithMobilenet025 } from './cache.js';
import { startEngine } from '../../src/engines/select.js';
import { resolveSpec } from '../../src/spec/spec.js';
import { imageSettingsOf, loadForSpec } from '../../src/spec/load.js';
import { ModelService, type Loaded } from '../../src/serve/service.js';
import { inferenceInThisThread } from '../../src/serve/inference.js';
import type { Backbone } from '../../src/zoo/backbone.js';
import { ServeMetrics } from '../../src/serve/metrics.js';
import { buildServer } from '../../src/serve/server.js';

export const skip = skipWithoutData();
export const cache = skip ? '' : cacheWithMobilenet025();
export const MODEL = 'mobilenet_0.25';

let shared: Promise<{ backbone: Backbone; loaded: Loaded }> | undefined;
/** The model most tests share, loaded once in this thread. */
export function sharedModel() {
  shared ??= (async () => {
    const spec = await resolveSpec({ model: MODEL, cacheDir: cache, backend: 'onnx', device: 'cpu' }, { defaultLayer: true });
    const backbone = await loadForSpec(spec, await startEngine(spec.engine));
    return { backbone, loaded: { inference: await inferenceInThisThread(backbone), settings: imageSettingsOf(spec, backbone.info) } };
  })();
  return shared;
}
export const loadShared = async () => (await sharedModel()).loaded;

/** The model in the server's own inference thread, as `backbones serve` loads it. */
export async function loadInThread(): Promise<Loaded> {
  // The built inference thread (npm test builds first).
  const { startInferenceThread } = (await import(path.join(REPO_ROOT, 'dist', 'serve', 'inference.js'))) as typeof import('../../src/serve/inference.js');
  const spec = await resolveSpec({ model: MODEL, cacheDir: cache, backend: 'onnx', device: 'cpu' }, { defaultLayer: true });
  const inference = await startInferenceThread(spec);
  return { inference, settings: imageSettingsOf(spec, inference.info) };
}

export interface ServeTestOptions {
  load?: () => Promise<Loaded>;
  maxBatch?: number;
  maxDelayMs?: number;
  maxQueue?: number;
  timeoutMs?: number;
  maxBodyBytes?: number;
  apiKey?: string;
  decodeThreads?: number;
  /** Node's process metrics in /metrics (off by default: several registries in one process). */
  processMetrics?: boolean;
}

const servers: { close(): Promise<void> }[] = [];
const services: ModelService[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const s of services) await s.dispose();
  (await shared)?.backbone.dispose();
});

export async function serve(o: ServeTestOptions = {}) {
  const metrics = new ServeMetrics({ processMetrics: o.processMetrics ?? false });
  const service = new ModelService({ load: o.load ?? loadShared, maxBatch: o.maxBatch ?? 8, maxDelayMs: o.maxDelayMs ?? 2, maxPixels: 40_000_000, observer: metrics.observer, onDecoded: metrics.decoded, decodeThreads: o.decodeThreads });
  const app = await buildServer({
    service,
    metrics,
    modelName: MODEL,
    version: 'test',
    maxQueue: o.maxQueue ?? 64,
    timeoutMs: o.timeoutMs ?? 60_000,
    maxBodyBytes: o.maxBodyBytes ?? 16 * 1024 * 1024,
    apiKey: o.apiKey,
    logLevel: 'silent',
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push(app);
  services.push(service); // each holds decode threads (and an inference thread with loadInThread)
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const started = service.start();
  return { app, service, url, port, started };
}

export const photo = (name: string) => readFileSync(IMAGES(name));
export const post = (url: string, body: Buffer | FormData | string, type?: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', body: body as BodyInit, headers: { ...(type ? { 'content-type': type } : {}), ...headers } });

export function form(names: string[]): FormData {
  const f = new FormData();
  for (const n of names) f.append('image', new Blob([photo(n)]), n);
  return f;
}

/** A metric's value from the Prometheus text (sum over label sets matching `labels`). */
export async function metric(url: string, name: string, labels = '', headers: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{') && line.includes(labels)) total += Number(line.split(' ').pop());
  }
  return total;
}

/** Polls until `check` holds (at most ~20 s); fails with `what` otherwise. */
export async function until(what: string, check: () => Promise<boolean> | boolean, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}
