// Runs the float graph over calibration batches with every tensor the plan quantizes
// exposed as an extra output, and feeds the values to a RangeCollector.
import type { InferenceSession } from 'onnxruntime-node';
import { loadOrt } from '../ort.js';
import { readModel, writeModel } from './model.js';
import { RangeCollector, type Range, type RangeMethod } from './ranges.js';

/** One NHWC float32 batch, as the exported graph takes it. */
export interface CalibrationBatch {
  data: Float32Array;
  shape: [number, number, number, number];
}

export interface CalibrationOptions {
  method: RangeMethod;
  percentile: number;
  threads: number;
}

/** The float model with `names` added as graph outputs (untyped shapes: ORT infers them). */
function exposeTensors(fp32: Uint8Array, names: string[]): Uint8Array {
  const model = readModel(fp32);
  const present = new Set(model.graph.output.map((o) => o.name));
  for (const name of names) {
    if (present.has(name)) continue;
    model.graph.output.push({ name, type: { tensor_type: { elem_type: 1 } } } as unknown as (typeof model.graph.output)[number]);
  }
  return writeModel(model);
}

export async function calibrate(
  fp32: Uint8Array,
  names: string[],
  batches: AsyncIterable<CalibrationBatch>,
  opts: CalibrationOptions,
): Promise<{ ranges: Map<string, Range>; images: number }> {
  const ort = await loadOrt();
  const session: InferenceSession = await ort.InferenceSession.create(exposeTensors(fp32, names), {
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const collector = new RangeCollector(opts.method, opts.percentile);
  let images = 0;
  try {
    for await (const batch of batches) {
      const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', batch.data, batch.shape) };
      const results = await session.run(feeds, names);
      for (const name of names) collector.add(name, results[name]!.data as Float32Array);
      images += batch.shape[0];
    }
  } finally {
    await session.release();
  }
  const ranges = new Map<string, Range>();
  for (const name of names) {
    const r = collector.range(name);
    if (r) ranges.set(name, r);
  }
  return { ranges, images };
}
