// `backbones worker`: takes jobs from the BullMQ queue, runs them through the same
// batches and engine as `extract` (runBatches + extractBatch), and writes each batch
// to the feature store in one transaction together with the queue's index of it.
//
// Nothing is lost when a worker dies: BullMQ gives a job whose lock expired (a worker
// killed mid-job) to another worker, which skips the images already stored (a key of
// this spec's keyspace holding a result) and does the rest; a key is written whole or not at all,
// so the store ends with every image exactly once. SIGTERM/SIGINT: finish the current
// jobs, then exit 0.
import { performance } from 'node:perf_hooks';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { BackbonesError, EXIT, errorMessage } from '../errors.js';
import { configureLog, log } from '../log.js';
import { startEngine, engineLine } from '../engines/select.js';
import type { Engine } from '../engines/types.js';
import type { Backbone } from '../zoo/backbone.js';
import { runBatches, type ImageSettings } from '../pipeline/batches.js';
import { resolveEngine, type RunSpec, type SpecOptions } from '../spec/spec.js';
import { headerLines, imageSettingsOf, loadForSpec, recordOf } from '../spec/load.js';
import type { SpecRecord } from '../output/spec-record.js';
import { computeFor, recordFor, type Task } from '../tasks/task.js';
import { assertFinite, resultValues } from '../tasks/finite.js';
import type { OutputRecord } from '../output/records.js';
import { checkRedisUrl, connectRedis, type Connection } from '../store/connection.js';
import { FeatureStore, lostConnection, type StoreSpec } from '../store/redis.js';
import { DEFAULT_QUEUE, progressPercent, queueKeys, type ExtractJobData, type ExtractJobResult } from './jobs.js';

/** worker: its own engine options and cache (from the spec's options), and the queue it serves. */
export interface WorkerOptions extends Pick<SpecOptions, 'backend' | 'device' | 'provider' | 'threads' | 'cacheDir'> {
  redis: string;
  queue?: string;
  concurrency: number;
  lockDuration: number;
  stalledInterval: number;
}

interface LoadedModel {
  backbone: Backbone;
  settings: ImageSettings;
  /** What is recorded with its results (the job's spec, with the int8 model this worker runs). */
  record: SpecRecord;
}

export async function runWorker(o: WorkerOptions): Promise<number> {
  configureLog({ timestamps: true });
  const url = checkRedisUrl(o.redis, '--redis');
  const name = o.queue ?? DEFAULT_QUEUE;
  // This worker's engine request, checked before it connects.
  const request = await resolveEngine(o);
  const queueConnection = await connectRedis(url);
  const storeConnection = await connectRedis(url);
  const store = (prefix: string) => new FeatureStore(storeConnection, prefix);
  const engine = await startEngine(request);
  log.info(`backend: ${engineLine(engine.choice)}`);

  // Each model spec is loaded once, on its first job, and kept.
  const models = new Map<string, Promise<LoadedModel>>();
  const modelFor = (data: ExtractJobData): Promise<LoadedModel> => {
    if (!data.spec) throw new UnrecoverableError('this job was enqueued by an older backbones (it carries no run spec); enqueue it again.');
    const { run: _counts, engine: _theirs, cacheDir: _theirCache, ...what } = data.spec;
    const id = JSON.stringify(what);
    let m = models.get(id);
    if (!m) {
      m = loadModel({ ...data.spec, engine: request }, engine, o.cacheDir);
      models.set(id, m);
      // A failed load is retried by the job's next attempt, not cached.
      m.catch(() => models.delete(id));
    }
    return m;
  };

  let stored = 0;
  /** Where this worker stored (the fingerprint is part of every key: readers need it). */
  const keyspaces = new Set<string>();
  const started = performance.now();
  const process_ = async (job: Job<ExtractJobData, ExtractJobResult>): Promise<ExtractJobResult> => {
    const data = job.data;
    const { backbone, settings, record } = await modelFor(data);
    const t = data.spec.task as Extract<RunSpec['task'], { kind: 'extract' }>;
    const task: Task = { kind: 'extract', layer: t.layer!, pool: t.pool, l2: t.l2 };
    const batchSize = data.spec.run.batchSize;
    const spec: StoreSpec = { kind: 'extract', model: backbone.name, layer: task.layer, pool: task.pool, l2: task.l2, preprocess: settings.preprocess, weights: backbone.info.weights.kind, record };
    const fs = store(data.prefix);
    const keys = queueKeys(data.prefix, name);
    const keyOf = new Map(data.items.map((it) => [it.path, fs.key(spec, it.path)]));
    const indexOf = new Map(data.items.map((it) => [it.path, it.index]));
    const done = await fs.holdingResults([...keyOf.values()]);
    // A retried or stalled job only does what its earlier run did not store.
    const todo = data.items.filter((it) => !done.has(keyOf.get(it.path)!));
    const skippedItems = data.items.filter((it) => done.has(keyOf.get(it.path)!));
    const keyspace = fs.keyspace(spec);
    if (!keyspaces.has(keyspace)) log.info(`results of run spec ${spec.record.fingerprint} go under ${keyspace}<absolute path>`);
    keyspaces.add(keyspace);
    const result: ExtractJobResult = { images: data.items.length, stored: 0, skipped: skippedItems.length, failed: 0 };
    const progress = () => job.updateProgress(progressPercent(result.skipped + result.stored + result.failed, result.images));
    // Images stored before (a retried or stalled job, a re-add with --force) count as done.
    if (skippedItems.length > 0) {
      await fs.writeBatch(spec, [], (pipe) => {
        pipe.set(keys.keyspace, keyspace);
        for (const it of skippedItems) pipe.setbit(keys.done, it.index, 1).setbit(keys.failed, it.index, 0);
      });
      await progress();
    }
    let buffer: { key: string; record: OutputRecord; index: number }[] = [];
    const flush = async () => {
      const batch = buffer;
      buffer = [];
      if (batch.length === 0) return;
      const ok = batch.filter((b) => !('error' in b.record)).length;
      await fs.writeBatch(spec, batch, (pipe) => {
        // Bits, not counters: an image written twice (a job taken over) is still one image done.
        pipe.set(keys.keyspace, keyspace);
        for (const b of batch) pipe.setbit(keys.done, b.index, 1).setbit(keys.failed, b.index, 'error' in b.record ? 1 : 0);
        pipe.hsetnx(keys.stats, 'first_ms', String(job.processedOn ?? Date.now()));
        pipe.hset(keys.stats, 'last_ms', String(Date.now()));
      });
      result.stored += ok;
      result.failed += batch.length - ok;
      stored += ok;
      await progress();
    };
    await runBatches(todo.map((it) => ({ path: it.path })), settings, batchSize, computeFor(task, backbone), async (item, res) => {
      // Per-image failures are records in the store (with "error"), not job failures.
      // Non-finite outputs are the model's fault, not the image's: the job fails (and is retried).
      if (res !== undefined) assertFinite(backbone.name, item.path, resultValues(res));
      const record: OutputRecord = res === undefined ? { path: item.path, error: item.error ?? 'no result' } : recordFor(task, backbone.name, item.path, res);
      buffer.push({ key: keyOf.get(item.path)!, record, index: indexOf.get(item.path)! });
      if (buffer.length >= batchSize) await flush();
    });
    await flush();
    log.info(`job ${job.id}: ${result.stored} stored, ${result.skipped} already there, ${result.failed} failed`);
    return result;
  };

  const worker = new Worker<ExtractJobData, ExtractJobResult>(name, process_, {
    connection: queueConnection.client,
    concurrency: o.concurrency,
    lockDuration: o.lockDuration,
    stalledInterval: o.stalledInterval,
    autorun: false,
  });
  worker.on('failed', (job, err) => {
    const final = !job || err instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
    log.warn(`job ${job?.id ?? '?'} failed (attempt ${job?.attemptsMade ?? '?'}${final ? ', giving up' : ', will retry'}): ${errorMessage(err)}`);
  });
  worker.on('error', (err) => log.debug(`worker: ${errorMessage(err)}`));
  worker.on('stalled', (jobId) => log.warn(`job ${jobId} stalled (its worker stopped renewing the lock); it goes back to the queue`));

  const outcome = new Promise<number>((resolve, reject) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: finishing the current job${o.concurrency > 1 ? 's' : ''}, then stopping`);
      void worker.close().then(() => resolve(EXIT.ok), reject);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // Reconnection gave up (connectRedis retries with backoff first): stop and say what was done.
    for (const c of [queueConnection, storeConnection]) {
      c.client.once('end', () => {
        if (stopping) return;
        stopping = true;
        void worker.close(true).catch(() => undefined);
        reject(lostConnection(c.where, c.lastError() ?? 'connection closed', stored, 'Start the worker again: unfinished jobs go back to the queue and stored images are skipped.'));
      });
    }
  });
  log.info(`worker on queue "${name}" at ${queueConnection.where}, concurrency ${o.concurrency}; SIGTERM stops it after the current job`);
  void worker.run().catch(() => undefined);
  try {
    return await outcome;
  } finally {
    for (const m of models.values()) void m.then((x) => x.backbone.dispose()).catch(() => undefined);
    await closeQuietly(storeConnection);
    await closeQuietly(queueConnection);
    const seconds = (performance.now() - started) / 1000;
    const where = keyspaces.size > 0 ? ` under ${[...keyspaces].map((k) => `${k}<absolute path>`).join(', ')}` : '';
    log.info(`worker stopped: ${stored} image${stored === 1 ? '' : 's'} stored in ${seconds.toFixed(1)} s${where}`);
  }
}

async function closeQuietly(c: Connection): Promise<void> {
  if (c.client.status === 'end') return;
  await c.client.quit().catch(() => c.client.disconnect());
}

async function loadModel(spec: RunSpec, engine: Engine, cacheDir: string | undefined): Promise<LoadedModel> {
  const t0 = performance.now();
  let backbone: Backbone;
  try {
    backbone = await loadForSpec(spec, engine, { ...(cacheDir !== undefined ? { cacheDir } : {}) });
    if (spec.precision !== 'fp32') await backbone.prepare(spec.task?.kind === 'extract' && spec.task.layer ? [spec.task.layer] : []);
  } catch (e) {
    // A spec the model cannot meet (no such layer, --pool on a flat layer, a foreign int8 model): retrying cannot help.
    if (e instanceof BackbonesError && e.code === 'E_USAGE') throw new UnrecoverableError(e.message);
    throw new BackbonesError('E_MODEL', `cannot load ${spec.model}: ${errorMessage(e)}`, { cause: e });
  }
  const info = backbone.info;
  log.info(`model: ${info.name} ${info.inputSize.join('x')}, preprocess ${info.preprocess}, weights ${info.weights.kind} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  for (const line of headerLines(spec, backbone)) log.info(line);
  return { backbone, settings: imageSettingsOf(spec, info), record: recordOf(spec, backbone) };
}
