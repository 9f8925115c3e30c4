// float ONNX model + calibration batches -> int8 QDQ model, with what was done recorded
// in the model's metadata_props (read back by `models info` and the engine).
import { plural } from '../../log.js';
import { calibrate, type CalibrationBatch } from './calibrate.js';
import { readModel, setMetadata, writeModel, getMetadata, type QuantModel } from './model.js';
import { calibratedTensors, planQuantization, UnquantizableModelError, DEFAULT_POLICY, type KeptLayer, type QuantizePolicy } from './plan.js';
import { applyQdq } from './qdq.js';
import { foldZeroPadsIntoConvs } from './fold.js';
import type { RangeMethod } from './ranges.js';
import { thisCpu, type Int8Cpu } from './cpu.js';
import { ENCODING_META, encodeForCpu, encodingMetadata } from './this-cpu.js';
import type { WeightScheme } from './encoding.js';

/** Bumped whenever the same inputs would give a different int8 graph (it keys the cache). */
export const QUANTIZER_VERSION = 1;

export interface QuantizeOptions {
  method: RangeMethod;
  /** percentile method: the share of values kept inside each range. */
  percentile: number;
  weightBits: 7 | 8;
  policy: QuantizePolicy;
  threads: number;
  /** The CPU whose exact weight encoding the model gets (default: this one, measured). Not part of the cache key: the encodings convert losslessly. */
  cpu?: Int8Cpu;
}

export const DEFAULT_QUANTIZE_OPTIONS: Omit<QuantizeOptions, 'threads'> = {
  method: 'percentile',
  percentile: 99.999,
  weightBits: 8,
  policy: DEFAULT_POLICY,
};

export interface QuantizeSummary {
  quantizedConvs: number;
  floatLayers: KeptLayer[];
  calibrationImages: number;
  method: RangeMethod;
  percentile?: number;
}

export const META = {
  precision: 'backbones.precision',
  quantizer: 'backbones.quantizer',
  summary: 'backbones.quantization',
  weightsHash: 'backbones.weights_hash',
  calibrationHash: 'backbones.calibration_hash',
  outputs: 'backbones.outputs',
  evaluation: 'backbones.evaluation',
  ...ENCODING_META,
  /** JSON {dir, images}: the calibration folder as it was named, and how many of its images were read. */
  calibration: 'backbones.calibration',
  /** JSON: the spec fields of the network it was made from (model, weights, alpha, input…; src/spec/fingerprint.ts). */
  source: 'backbones.source',
} as const;

export { UnquantizableModelError };

export async function quantizeOnnx(
  fp32: Uint8Array,
  batches: AsyncIterable<CalibrationBatch>,
  opts: QuantizeOptions,
  provenance: Record<string, string> = {},
): Promise<{ model: QuantModel; summary: QuantizeSummary }> {
  const model = readModel(fp32);
  foldZeroPadsIntoConvs(model.graph);
  const plan = planQuantization(model.graph, opts.policy);
  const { ranges, images } = await calibrate(fp32, calibratedTensors(plan), batches, opts);
  if (images === 0) throw new UnquantizableModelError('no calibration image could be read');
  applyQdq(model, plan, ranges, { weightBits: opts.weightBits });
  const summary: QuantizeSummary = {
    quantizedConvs: plan.convs.size,
    floatLayers: plan.kept,
    calibrationImages: images,
    method: opts.method,
    ...(opts.method === 'percentile' ? { percentile: opts.percentile } : {}),
  };
  model.producer_version = `${model.producer_version} + int8 quantizer ${QUANTIZER_VERSION}`;
  setMetadata(model, {
    [META.precision]: 'int8',
    [META.quantizer]: String(QUANTIZER_VERSION),
    [META.summary]: JSON.stringify({ ...summary, weightBits: opts.weightBits, policy: opts.policy }),
    [META.outputs]: JSON.stringify(model.graph.output.map((o) => o.name)),
    ...provenance,
  });
  // Last, so a re-encoding at load time (which rewrites these two entries) can give back the same bytes.
  encodeForCpu(model, opts.cpu ?? (await thisCpu()));
  return { model, summary };
}

export function encodeQuantized(model: QuantModel): Uint8Array {
  return writeModel(model);
}

/** What an int8 file says about itself (undefined fields when absent). */
export interface Int8Description {
  int8: boolean;
  outputs: string[];
  summary?: unknown;
  evaluation?: unknown;
  weightsHash?: string;
  calibrationHash?: string;
  calibration?: { dir?: string; images?: number };
  /** The spec fields of the network it was made from (files written before this was recorded have none). */
  source?: Record<string, string>;
  /** The weights' encoding and the CPU it was chosen for (absent in files made before they were recorded). */
  encoding: { scheme?: WeightScheme; madeFor?: Int8Cpu };
}

export function describeInt8(bytes: Uint8Array): Int8Description {
  const model = readModel(bytes);
  const json = (key: string) => {
    const v = getMetadata(model, key);
    return v === undefined ? undefined : (JSON.parse(v) as unknown);
  };
  return {
    int8: getMetadata(model, META.precision) === 'int8',
    outputs: model.graph.output.map((o) => o.name),
    summary: json(META.summary),
    evaluation: json(META.evaluation),
    weightsHash: getMetadata(model, META.weightsHash),
    calibrationHash: getMetadata(model, META.calibrationHash),
    encoding: encodingMetadata(model),
    calibration: json(META.calibration) as Int8Description['calibration'],
    source: json(META.source) as Int8Description['source'],
  };
}

/** How an int8 model was calibrated, for the run's header: "13 images of calib/, percentile 99.999". */
export function calibrationNote(d: Int8Description): string {
  const summary = (d.summary ?? {}) as { calibrationImages?: number; method?: string; percentile?: number };
  const images = d.calibration?.images ?? summary.calibrationImages;
  const where = d.calibration?.dir ? ` of ${d.calibration.dir}` : '';
  const method = summary.method ? `, ${summary.method}${summary.method === 'percentile' && summary.percentile !== undefined ? ` ${summary.percentile}` : ''}` : '';
  return images !== undefined ? `calibrated on ${plural(images, 'image')}${where}${method}` : 'calibration not recorded';
}
