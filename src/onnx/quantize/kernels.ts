// What ONNX Runtime really runs: the graph after its optimizer (written through
// session option optimizedModelFilePath), counted by op type. A quantized model pays
// off only when its QDQ pairs became integer kernels.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadOrt } from '../ort.js';
import { readModel } from './model.js';

/** Op types that compute on integers (ORT contrib ops included). */
export const INTEGER_KERNELS = ['QLinearConv', 'ConvInteger', 'MatMulInteger', 'QLinearMatMul', 'MatMulIntegerToFloat', 'QGemm', 'DynamicQuantizeMatMul'];

export interface OptimizedGraph {
  /** Node count per op type after optimization. */
  ops: Record<string, number>;
  integerKernels: number;
  /** DequantizeLinear / QuantizeLinear left over (each one is a float<->int conversion at run time). */
  leftoverQdq: number;
  floatConvs: number;
}

export async function inspectOptimized(model: Uint8Array | string, threads = 1): Promise<OptimizedGraph> {
  const ort = await loadOrt();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'backbones-ort-'));
  const file = path.join(dir, 'optimized.onnx');
  try {
    const session = await ort.InferenceSession.create(model as Uint8Array, {
      intraOpNumThreads: threads,
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: file,
      // ORT warns that an NCHWc-optimized graph is machine-specific: we only read it.
      logSeverityLevel: 3,
    });
    await session.release();
    const optimized = readModel(await readFile(file));
    const ops: Record<string, number> = {};
    for (const n of optimized.graph.node) ops[n.op_type] = (ops[n.op_type] ?? 0) + 1;
    const count = (names: string[]) => names.reduce((s, n) => s + (ops[n] ?? 0), 0);
    return {
      ops,
      integerKernels: count(INTEGER_KERNELS),
      leftoverQdq: count(['QuantizeLinear', 'DequantizeLinear']),
      floatConvs: count(['Conv', 'FusedConv', 'NhwcFusedConv']),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
