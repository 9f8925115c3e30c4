// The CPU an int8 model runs on, as far as int8 accuracy goes: which weight encodings
// ONNX Runtime computes exactly here, per conv kind. Measured, not guessed from flags: a
// probe runs three tiny QLinearConvs (indirect conv, QGEMM, depthwise) on inputs where a
// saturating kernel gives half the true sum. Flags can lie (under QEMU user-mode
// /proc/cpuinfo is the host's while ORT sees the emulated CPUID) and there is no
// /proc/cpuinfo outside Linux; the probe asks the kernels themselves. The flags and the
// kind they imply (mlas.ts) are kept alongside, for people and for the metadata.
import { readFile } from 'node:fs/promises';
import type { NodeMsg, TensorMsg, ValueInfoMsg } from '../proto.js';
import { encodeModel, IR_VERSION, OPSET } from '../proto.js';
import { loadOrt } from '../ort.js';
import { QDataType, tensors } from './model.js';
import { WEIGHT_ENCODINGS, type WeightEncoding, type WeightScheme } from './encoding.js';
import { CPU_KINDS, INT8_FLAGS, MLAS_KERNELS, kernelExact, kindFromFlags, type CpuKind } from './mlas.js';

export interface Int8Cpu {
  arch: string;
  /** The int8-relevant /proc/cpuinfo flags (mlas.ts INT8_FLAGS); [] where there is none. */
  flags: string[];
  /** What ONNX Runtime's dispatch picks for those flags (mlas.ts), when they say. */
  kind?: CpuKind;
  /** The weight encodings ORT computed exactly on the probe, per conv kind. */
  exact: { conv: WeightEncoding[]; depthwise: WeightEncoding[] };
  onnxruntime?: string;
}

/** The encodings this CPU should get: int8 where it is exact (fastest kernels), else uint8. */
export function schemeFor(cpu: Int8Cpu): WeightScheme {
  const pick = (exact: WeightEncoding[]): WeightEncoding => (exact.includes('s8') || !exact.includes('u8') ? 's8' : 'u8');
  return { conv: pick(cpu.exact.conv), depthwise: pick(cpu.exact.depthwise) };
}

/** One line for people: "AVX-512 VNNI (u8 x s8 exact)". */
export function describeCpu(cpu: Int8Cpu): string {
  const saturates = !cpu.exact.conv.includes('s8') || !cpu.exact.depthwise.includes('s8');
  const label = cpu.kind ? MLAS_KERNELS[cpu.kind].label : `${cpu.arch} (CPU flags unknown)`;
  const predicted = cpu.kind ? !kindExact(cpu.kind) : undefined;
  const mismatch = predicted !== undefined && predicted !== saturates ? ', not what its CPU flags predict' : '';
  return `${label} (u8 x s8 kernels ${saturates ? 'saturate' : 'exact'}${mismatch})`;
}

function kindExact(kind: CpuKind): boolean {
  const k = MLAS_KERNELS[kind];
  return kernelExact(k.s8.conv, 127, 1) && kernelExact(k.s8.depthwise, 127, 1);
}

/** A CPU of a kind as mlas.ts models it (tests inject these; the probe measures the real one). */
export function cpuOfKind(kind: CpuKind): Int8Cpu {
  const k = MLAS_KERNELS[kind];
  const exactFor = (which: 'conv' | 'depthwise') =>
    WEIGHT_ENCODINGS.filter((e) => {
      const step = k[e]?.[which];
      return step !== undefined && kernelExact(step, e === 's8' || step.centred ? 127 : 255, 1);
    });
  return { arch: kind.startsWith('arm64') ? 'arm64' : 'x64', flags: [], kind, exact: { conv: exactFor('conv'), depthwise: exactFor('depthwise') } };
}

export { CPU_KINDS };

async function cpuFlags(): Promise<string[]> {
  try {
    const text = await readFile('/proc/cpuinfo', 'utf8');
    // x86: "flags : ...", arm64: "Features : ...".
    const line = text.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
    const have = new Set(line ? line.slice(line.indexOf(':') + 1).trim().split(/\s+/) : []);
    return INT8_FLAGS.filter((f) => have.has(f));
  } catch {
    return [];
  }
}

const PROBE_CHANNELS = 16;
/** Every probe output is this when the sums are exact; a kernel that saturates pairs of products gives about half. */
const PROBE_EXPECTED = 200;

/**
 * Three QLinearConvs per encoding on a [1, 16, 3, 3] input of 255s with weights of +127
 * (stored 127 as s8, 255 with zero point 128 as u8), output scales set so the exact sum
 * reads 200: a 3x3 conv 16 -> 16 (MLAS's ConvSym indirect kernel), a 1x1 conv 16 -> 8
 * (fewer than 16 outputs: the QGEMM kernel) and a 3x3 depthwise conv (ConvSym depthwise).
 */
export function probeModel(): Uint8Array {
  const C = PROBE_CHANNELS;
  const initializer: TensorMsg[] = [tensors.float('one', [], Float32Array.of(1)), tensors.uint8('zero', [], Uint8Array.of(0))];
  const node: NodeMsg[] = [];
  const output: ValueInfoMsg[] = [];
  const info = (name: string, dims: number[]): ValueInfoMsg => ({ name, type: { tensor_type: { elem_type: QDataType.UINT8, shape: { dim: dims.map((d) => ({ dim_value: d })) } } } });
  const convs: Array<[string, number[], number, number[]]> = [
    ['conv', [C, C, 3, 3], 1, [1, C, 1, 1]],
    ['gemm', [8, C, 1, 1], 1, [1, 8, 3, 3]],
    ['depthwise', [C, 1, 3, 3], C, [1, C, 1, 1]],
  ];
  for (const encoding of WEIGHT_ENCODINGS) {
    for (const [kind, dims, group, outDims] of convs) {
      const name = `${encoding}_${kind}`;
      const count = dims.reduce((a, b) => a * b, 1);
      const depth = count / dims[0]!;
      const w = encoding === 's8' ? tensors.int8(`${name}_w`, dims, new Int8Array(count).fill(127)) : tensors.uint8(`${name}_w`, dims, new Uint8Array(count).fill(255));
      const wz = encoding === 's8' ? tensors.int8(`${name}_wz`, [dims[0]!], new Int8Array(dims[0]!)) : tensors.uint8(`${name}_wz`, [dims[0]!], new Uint8Array(dims[0]!).fill(128));
      initializer.push(w, wz, tensors.float(`${name}_ws`, [dims[0]!], new Float32Array(dims[0]!).fill(1)), tensors.float(`${name}_ys`, [], Float32Array.of((255 * 127 * depth) / PROBE_EXPECTED)));
      node.push({ op_type: 'QLinearConv', name, input: ['x', 'one', 'zero', w.name, `${name}_ws`, wz.name, `${name}_ys`, 'zero'], output: [name], attribute: group > 1 ? [{ name: 'group', type: 2, i: group }] : [] });
      output.push(info(name, outDims));
    }
  }
  return encodeModel({
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: OPSET }],
    producer_name: 'backbones',
    producer_version: 'int8 probe',
    graph: { name: 'int8_probe', node, initializer, input: [info('x', [1, C, 3, 3])], output },
  });
}

/** Runs the probe: which encodings ORT computes exactly here, per conv kind. */
export async function probeKernels(): Promise<Int8Cpu['exact']> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(probeModel(), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  try {
    const x = new ort.Tensor('uint8', new Uint8Array(PROBE_CHANNELS * 9).fill(255), [1, PROBE_CHANNELS, 3, 3]);
    const results = await session.run({ x });
    const exact = (name: string) => (results[name]!.data as Uint8Array).every((v) => v === PROBE_EXPECTED);
    return {
      conv: WEIGHT_ENCODINGS.filter((e) => exact(`${e}_conv`) && exact(`${e}_gemm`)),
      depthwise: WEIGHT_ENCODINGS.filter((e) => exact(`${e}_depthwise`)),
    };
  } finally {
    await session.release();
  }
}

let detected: Promise<Int8Cpu> | undefined;

/** This machine, measured once per process. */
export function thisCpu(): Promise<Int8Cpu> {
  detected ??= (async () => {
    const [flags, exact, ort] = await Promise.all([cpuFlags(), probeKernels(), loadOrt()]);
    const kind = kindFromFlags(process.arch, new Set(flags));
    return { arch: process.arch, flags, ...(kind ? { kind } : {}), exact, onnxruntime: ort.env.versions.node ?? ort.env.versions.common };
  })().catch((e: unknown) => {
    detected = undefined;
    throw e;
  });
  return detected;
}
