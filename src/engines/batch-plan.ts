// The best batch per model × device × precision × driver. A GPU can be slower per image
// at a large batch than at a smaller one (issue 9 measured VGG16 on an H200: 341 img/s at
// batch 8, 260 at 32); then a requested batch runs as sub-batches of the fastest size.
// The sizes come from measuring, once: `bench --batch-sizes 1,8,32` writes what it measured
// to <cache>/batch/<key>.json, keyed by everything that changes the figures (the model and
// its input size, the precision, the engine, provider and runtime version, the adapter with
// its driver, the threads of a CPU engine). Nothing measured: batches run as asked.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeAtomically } from '../onnx/cache.js';
import { EXPORTER_VERSION } from '../onnx/version.js';
import type { Precision } from '../onnx/precision.js';
import type { BackendChoice } from './types.js';

/** Bumped when the rule or the file changes meaning. */
const PLAN_VERSION = 1;

/** A larger batch must be this much slower per image than the best smaller one to be split (noise is not a reason). */
export const SPLIT_MARGIN = 0.05;

/**
 * Which engines split batches: ONNX Runtime on a GPU. A CPU engine is not slower per image at
 * larger batches in any measurement here, and there timing noise would decide splits.
 */
export function batchPlanApplies(choice: BackendChoice): boolean {
  return choice.backend === 'onnx' && choice.device === 'gpu';
}

/** Everything a measured batch table depends on. */
export interface BatchIdentity {
  /** Zoo name or model file (absolute path or URL), with its input size: 'vgg16 224x224'. */
  model: string;
  precision: Precision;
  /** The engine and what runs it: 'onnx webgpu onnxruntime-node 1.30.0'. */
  engine: string;
  /** The processor and its driver: the WebGPU adapter's vendor, architecture, device and driver description; the CPU model and threads for a CPU engine. */
  adapter: string;
  /** The exporter's version: another graph may be fast at other sizes. */
  exporter: number;
}

export function batchIdentity(model: { name: string; source: string; inputSize: [number, number] }, precision: Precision, choice: BackendChoice): BatchIdentity {
  // A model file is the same model from any working directory.
  const name = model.source === 'zoo' || /^[a-z][a-z0-9+.-]*:\/\//i.test(model.name) ? model.name : path.resolve(model.name);
  const a = choice.webgpuAdapter;
  const adapter = a ? [a.vendor, a.architecture, a.device, a.description].join(' | ') : choice.device === 'cpu' ? `${choice.adapter}, ${choice.threads} threads` : choice.adapter;
  const runtime = choice.onnx ? `onnxruntime-node ${choice.onnx.version}` : `tfjs ${choice.tfjsVersion}`;
  return { model: `${name} ${model.inputSize.join('x')}`, precision, engine: `${choice.backend} ${choice.provider} ${runtime}`, adapter, exporter: EXPORTER_VERSION };
}

/** The file name: a readable prefix and a hash of the whole identity. */
export function batchTableKey(id: BatchIdentity): string {
  const hash = createHash('sha256').update(JSON.stringify([PLAN_VERSION, id.model, id.precision, id.engine, id.adapter, id.exporter])).digest('hex').slice(0, 32);
  const label = `${id.model.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(0, 40) || 'model'}-${id.precision}`;
  return `${label}-${hash}`;
}

export function batchTablePath(cacheDir: string, id: BatchIdentity): string {
  return path.join(cacheDir, 'batch', `${batchTableKey(id)}.json`);
}

/** What bench measured: images per second per batch size. */
export interface BatchTable {
  identity: BatchIdentity;
  /** Batch size → images/s. */
  imagesPerSecond: Record<string, number>;
  measuredAt: string;
  /** 1-minute load average when measured (a busy machine measures badly). */
  loadAverage?: number;
}

export async function readBatchTable(cacheDir: string, id: BatchIdentity): Promise<(BatchTable & { file: string }) | undefined> {
  const file = batchTablePath(cacheDir, id);
  try {
    const table = JSON.parse(await readFile(file, 'utf8')) as BatchTable;
    const sizes = Object.entries(table.imagesPerSecond ?? {});
    // A damaged or foreign file is ignored, not fatal: batches then run as asked.
    if (sizes.length === 0 || !sizes.every(([b, ips]) => Number.isInteger(Number(b)) && Number(b) > 0 && Number.isFinite(ips) && ips > 0)) return undefined;
    return { ...table, file };
  } catch {
    return undefined;
  }
}

export async function writeBatchTable(cacheDir: string, table: BatchTable): Promise<string> {
  const file = batchTablePath(cacheDir, table.identity);
  await writeAtomically(file, new TextEncoder().encode(JSON.stringify(table, null, 2) + '\n'));
  return file;
}

/**
 * The size a batch of `requested` images runs as: the measured size (≤ requested) with the
 * most images/s, when the largest measured size ≤ requested was more than SPLIT_MARGIN
 * slower per image than it; else `requested` (run as asked). Sizes not measured are not guessed.
 */
export function subBatchSize(imagesPerSecond: Record<string, number>, requested: number, margin = SPLIT_MARGIN): number {
  const sizes = Object.keys(imagesPerSecond)
    .map(Number)
    .filter((b) => b <= requested)
    .sort((a, b) => a - b);
  if (sizes.length < 2) return requested;
  const ips = (b: number) => imagesPerSecond[String(b)]!;
  // Ties go to the larger size: fewer runs for the same rate.
  const best = sizes.reduce((a, b) => (ips(b) >= ips(a) ? b : a));
  const largest = sizes[sizes.length - 1]!;
  if (best === largest || ips(largest) >= ips(best) * (1 - margin)) return requested;
  return best;
}

/** [start, end) row ranges of a batch of n run as sub-batches of `size`. */
export function subBatches(n: number, size: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let start = 0; start < n; start += size) ranges.push([start, Math.min(n, start + size)]);
  return ranges;
}
