// fp16 against fp32 on held-out images, on the GPU provider that runs it: the same figures
// as int8's evaluation (top-1 agreement, top-5 overlap, feature cosine) with fp32 on the
// CPU as the reference, the provider's own fp32 parity beside them (so a provider bug is
// not blamed on fp16), and the speed-up of fp16 over fp32 on the provider (alternating
// runs). Kept next to the cached fp16 export as <file>.json for `models info`.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { writeAtomically } from './cache.js';
import { loadOrt } from './ort.js';
import { agreement, alternatingMedians, outputRows, type Agreement } from './quantize/evaluate.js';
import type { CalibrationBatch } from './quantize/calibrate.js';

export interface Fp16Evaluation extends Agreement {
  /** What computed the fp16 (and fp32) runs: ONNX Runtime's providers, in order. */
  providers: string[];
  /** fp32 on the same providers against fp32 on the CPU: the provider's parity without fp16. */
  fp32OnProviders: Agreement;
  /** fp32 median batch time / fp16 median batch time on the providers, alternating runs. */
  speedup: number;
  speed: { batchSize: number; runs: number; fp32MedianMs: number; fp16MedianMs: number; loadAverage: number[] };
}

export interface Fp16EvaluateOptions {
  classifierOutput: string | null;
  featureOutput: string | null;
  /** CPU threads of the reference session. */
  threads: number;
  /** The GPU providers fp16 runs on, e.g. ['webgpu']. */
  providers: string[];
  speedBatchSize?: number;
  speedRuns?: number;
}

export async function evaluateFp16(fp32: Uint8Array, fp16: Uint8Array, batches: CalibrationBatch[], opts: Fp16EvaluateOptions): Promise<Fp16Evaluation> {
  const ort = await loadOrt();
  const base: InferenceSession.SessionOptions = { interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } };
  const sessions: InferenceSession[] = [];
  const open = async (bytes: Uint8Array, executionProviders: string[]) => {
    const s = await ort.InferenceSession.create(bytes, { ...base, intraOpNumThreads: opts.threads, executionProviders });
    sessions.push(s);
    return s;
  };
  try {
    const reference = await open(fp32, ['cpu']);
    const gpu32 = await open(fp32, opts.providers);
    const gpu16 = await open(fp16, opts.providers);
    const outputs = { classifierOutput: opts.classifierOutput, featureOutput: opts.featureOutput };
    const referenceRows = await outputRows(reference, batches, outputs);
    const fp16Agreement = agreement(referenceRows, await outputRows(gpu16, batches, outputs), outputs);
    const fp32OnProviders = agreement(referenceRows, await outputRows(gpu32, batches, outputs), outputs);
    const speed = await alternatingMedians(gpu32, gpu16, batches, opts);
    return {
      ...fp16Agreement,
      providers: opts.providers,
      fp32OnProviders,
      speedup: speed.aMedianMs / speed.bMedianMs,
      speed: { batchSize: speed.batchSize, runs: speed.runs, fp32MedianMs: speed.aMedianMs, fp16MedianMs: speed.bMedianMs, loadAverage: speed.loadAverage },
    };
  } finally {
    for (const s of sessions) await s.release();
  }
}

/** What `models info` shows about a cached fp16 export, kept next to it as <file>.json. */
export interface Fp16Sidecar {
  /** Zoo name or model path, as given. */
  model: string;
  precision: 'fp16';
  weights: string;
  outputs: string[];
  /** Nodes kept in float32 (the fp16 policy), by ONNX op type and the classifier's name. */
  keptFloat32: string[];
  /** The adapter the evaluation ran on (fp16 numbers depend on the GPU's arithmetic). */
  adapter: string;
  evaluation?: Fp16Evaluation;
  createdAt: string;
}

export async function writeFp16Sidecar(modelFile: string, sidecar: Fp16Sidecar): Promise<void> {
  await writeAtomically(`${modelFile}.json`, new TextEncoder().encode(JSON.stringify(sidecar, null, 2) + '\n'));
}

/** Sidecars of the cached fp16 exports of `model`, newest first. */
export async function fp16ExportsFor(cacheDir: string, model: string): Promise<Array<Fp16Sidecar & { file: string }>> {
  const dir = path.join(cacheDir, 'onnx');
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.onnx.json')).sort();
  } catch {
    return [];
  }
  const found: Array<Fp16Sidecar & { file: string }> = [];
  for (const n of names) {
    try {
      const s = JSON.parse(await readFile(path.join(dir, n), 'utf8')) as Fp16Sidecar;
      if (s.precision === 'fp16' && s.model === model) found.push({ ...s, file: path.join(dir, n.slice(0, -'.json'.length)) });
    } catch {
      // A damaged sidecar hides one entry, nothing more.
    }
  }
  return found.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
