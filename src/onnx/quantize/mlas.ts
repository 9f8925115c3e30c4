// A model of ONNX Runtime's integer conv kernels (MLAS, onnxruntime 1.30): per CPU kind,
// which kernel runs a quantized conv for each weight encoding, and how wide the sums are
// that it forms before its int32 accumulator. Read from onnxruntime/core/mlas/lib/:
// platform.cpp (which kernels each CPU gets), convsym.cpp (symmetric conv dispatch),
// x86_64/ConvSymKernelAvx2.S, x86_64/ConvSymKernelAvx512Core.S, x86_64/QgemmU8X8KernelAvx2.S,
// intrinsics/avx2/qdwconv_avx2.cpp, aarch64/ConvSymU8KernelNeon.S.
//
// What matters: on AVX2 and on AVX-512 without VNNI, u8 activation x s8 weight convs run
// vpmaddubsw, which adds two products in a *saturating int16*. 2 * 255 * 127 = 64770 >
// 32767, so those convs silently clip (issue 19: feature cosine 0.916 instead of 0.960).
// VNNI (vpdpbusd), AMX and ARM (smull/smlal pairs on xor-128 activations, or dot products)
// are exact for weights in [-127, 127]; u8 x u8 kernels widen both operands to int16 and
// add pairs in int32 on every x86 CPU, so they are exact too.

/** The CPU kinds MLAS distinguishes for u8 x int8 work (see kindFromFlags). */
export const CPU_KINDS = ['x86-sse', 'x86-avx2', 'x86-avx512bw', 'x86-avx-vnni', 'x86-avx512-vnni', 'x86-amx', 'arm64-neon', 'arm64-dot'] as const;
export type CpuKind = (typeof CPU_KINDS)[number];

/** How one kernel multiplies and adds: `products` products of |activation| <= maxActivation and |weight| summed in a signed `bits`-bit value before the int32 accumulator. */
export interface KernelStep {
  /** The MLAS function and the file that holds it. */
  kernel: string;
  instruction: string;
  products: number;
  bits: 16 | 32;
  /** 255 for u8 activations used as they are; 128 where the kernel first subtracts 128 (ARM's xor 0x80). */
  maxActivation: number;
  /** True for kernels that subtract the weight zero point before multiplying (then |weight - zero point| counts, not the stored byte). */
  centred?: boolean;
}

export interface KindKernels {
  label: string;
  /** Kernels for int8 weights (zero point 0): regular convs (ConvSym indirect conv or QGEMM) and depthwise. */
  s8: { conv: KernelStep; depthwise: KernelStep };
  /** Kernels for uint8 weights (zero point 128); absent where the scheme never uses them. */
  u8?: { conv: KernelStep; depthwise: KernelStep };
}

const U8U8_AVX2: KindKernels['u8'] = {
  // vpmovzxbw widens both operands to int16, vpmaddwd adds two products in int32.
  conv: { kernel: 'MlasGemmU8U8KernelAvx2 (x86_64/QgemmU8X8KernelAvx2.S)', instruction: 'vpmaddwd', products: 2, bits: 32, maxActivation: 255 },
  // (x - zx) * (w - zw) as 16-bit mullo/mulhi halves: full 32-bit products.
  depthwise: { kernel: 'MlasConvDepthwiseKernelAvx2<uint8_t> (intrinsics/avx2/qdwconv_avx2.cpp)', instruction: 'vpmullw/vpmulhw', products: 1, bits: 32, maxActivation: 255, centred: true },
};
const U8U8_AVX512: KindKernels['u8'] = {
  conv: { kernel: 'MlasGemmU8U8KernelAvx512Core (x86_64/QgemmU8U8KernelAvx512Core.S)', instruction: 'vpmaddwd', products: 2, bits: 32, maxActivation: 255 },
  depthwise: U8U8_AVX2!.depthwise,
};
const VNNI_DEPTHWISE = (isa: string): KernelStep => ({ kernel: `MlasConvSymDepthwiseKernel${isa}`, instruction: 'vpdpbusds', products: 1, bits: 32, maxActivation: 255 });

// 3x3 depthwise (the MobileNets'): smull + smlal add two xor-128 products in int16, saddw widens.
const ARM_DEPTHWISE: KernelStep = { kernel: 'MlasConvSymDepthwiseKernelSize9Arm64U8S8 (aarch64/DepthwiseQConvKernelSize9Neon.S)', instruction: 'smull/smlal', products: 2, bits: 16, maxActivation: 128 };

export const MLAS_KERNELS: Record<CpuKind, KindKernels> = {
  // No AVX2: no ConvSym dispatch, so convs go to QGEMM: MlasGemmU8X8DispatchSse widens both
  // operands to int16 (exact; measured under QEMU -cpu Nehalem). MSVC builds use
  // MlasGemmU8S8DispatchSse41 (pmaddubsw) instead, which saturates like AVX2: the probe
  // (cpu.ts) measures which one runs.
  'x86-sse': {
    label: 'x86 without AVX2',
    s8: {
      conv: { kernel: 'MlasGemmU8X8KernelSse (qgemm_kernel_sse.cpp)', instruction: 'pmaddwd', products: 2, bits: 32, maxActivation: 255 },
      depthwise: { kernel: 'MlasConvDepthwiseKernel (qdwconv.cpp)', instruction: 'scalar int32', products: 1, bits: 32, maxActivation: 255, centred: true },
    },
    u8: {
      conv: { kernel: 'MlasGemmU8X8KernelSse (qgemm_kernel_sse.cpp)', instruction: 'pmaddwd', products: 2, bits: 32, maxActivation: 255 },
      depthwise: { kernel: 'MlasConvDepthwiseKernel (qdwconv.cpp)', instruction: 'scalar int32', products: 1, bits: 32, maxActivation: 255, centred: true },
    },
  },
  'x86-avx2': {
    label: 'AVX2 without VNNI',
    s8: {
      conv: { kernel: 'MlasConvSymKernelAvx2 / MlasGemmU8S8KernelAvx2 (x86_64/ConvSymKernelAvx2.S, QgemmU8X8KernelAvx2.S)', instruction: 'vpmaddubsw', products: 2, bits: 16, maxActivation: 255 },
      // vpmovzxbd/vpmovsxbd put one byte per int32 lane, so vpmaddwd multiplies one pair.
      depthwise: { kernel: 'MlasConvSymDepthwiseKernelAvx2 (x86_64/ConvSymKernelAvx2.S)', instruction: 'vpmaddwd', products: 1, bits: 32, maxActivation: 255 },
    },
    u8: U8U8_AVX2,
  },
  'x86-avx512bw': {
    label: 'AVX-512 without VNNI',
    s8: {
      conv: { kernel: 'MlasConvSymKernelAvx512Core (x86_64/ConvSymKernelAvx512Core.S)', instruction: 'vpmaddubsw', products: 2, bits: 16, maxActivation: 255 },
      // Zero-extended bytes: vpmaddubsw sees one non-zero pair per int16.
      depthwise: { kernel: 'MlasConvSymDepthwiseKernelAvx512Core (x86_64/ConvSymKernelAvx512Core.S)', instruction: 'vpmaddubsw', products: 1, bits: 16, maxActivation: 255 },
    },
    u8: U8U8_AVX512,
  },
  'x86-avx-vnni': {
    label: 'AVX-VNNI',
    s8: {
      conv: { kernel: 'MlasConvSymKernelAvxVnni (x86_64/ConvSymKernelAvx2.S)', instruction: 'vpdpbusds', products: 4, bits: 32, maxActivation: 255 },
      depthwise: VNNI_DEPTHWISE('AvxVnni'),
    },
    u8: U8U8_AVX2,
  },
  'x86-avx512-vnni': {
    label: 'AVX-512 VNNI',
    s8: {
      conv: { kernel: 'MlasConvSymKernelAvx512Vnni (x86_64/ConvSymKernelAvx512Core.S)', instruction: 'vpdpbusds', products: 4, bits: 32, maxActivation: 255 },
      depthwise: VNNI_DEPTHWISE('Avx512Vnni'),
    },
    u8: U8U8_AVX512,
  },
  'x86-amx': {
    label: 'AMX-INT8',
    s8: {
      // Convs take the AVX-512 VNNI ConvSym kernels; QGEMM (shapes ConvSym refuses) takes AMX tiles.
      conv: { kernel: 'MlasConvSymKernelAvx512Vnni / MlasGemmU8S8KernelAmx', instruction: 'vpdpbusds / tdpbusd', products: 4, bits: 32, maxActivation: 255 },
      depthwise: VNNI_DEPTHWISE('Avx512Vnni'),
    },
    u8: U8U8_AVX512,
  },
  'arm64-neon': {
    label: 'ARM64 NEON',
    s8: {
      // eor 0x80 makes the activation s8; smull + smlal add two s8*s8 products in int16 (wrapping), sadalp widens.
      conv: { kernel: 'MlasConvSymU8KernelNeon (aarch64/ConvSymU8KernelNeon.S)', instruction: 'smull/smlal', products: 2, bits: 16, maxActivation: 128 },
      depthwise: ARM_DEPTHWISE,
    },
  },
  'arm64-dot': {
    label: 'ARM64 dot product',
    s8: {
      conv: { kernel: 'MlasConvSymU8KernelDot (aarch64/ConvSymU8KernelDot.S)', instruction: 'sdot', products: 4, bits: 32, maxActivation: 128 },
      depthwise: ARM_DEPTHWISE,
    },
  },
};

/**
 * The CPU kind MLAS's dispatch (platform.cpp, MlasPlatform constructor) picks for these
 * /proc/cpuinfo flags. Linux clears the AVX-512 flags when the OS does not save their
 * state, which is the XCR0 check platform.cpp makes. undefined: not a CPU MLAS has int8
 * kernels for here (or no flags to go by).
 */
export function kindFromFlags(arch: string, flags: ReadonlySet<string>): CpuKind | undefined {
  if (arch === 'arm64') {
    if (flags.size === 0) return undefined;
    return flags.has('asimddp') ? 'arm64-dot' : 'arm64-neon';
  }
  if (arch !== 'x64' || flags.size === 0) return undefined;
  if (!(flags.has('avx2') && flags.has('fma'))) return 'x86-sse';
  const avx512core = ['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f));
  if (avx512core) {
    if (!flags.has('avx512_vnni')) return 'x86-avx512bw';
    return flags.has('amx_int8') && flags.has('amx_tile') ? 'x86-amx' : 'x86-avx512-vnni';
  }
  return flags.has('avx_vnni') ? 'x86-avx-vnni' : 'x86-avx2';
}

/** The /proc/cpuinfo flags kindFromFlags reads (kept in the int8 model's metadata). */
export const INT8_FLAGS = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512dq', 'avx512vl', 'avx512_vnni', 'avx_vnni', 'amx_int8', 'amx_tile', 'asimd', 'asimddp', 'i8mm'];

export const INT16_MAX = 2 ** 15 - 1;
export const INT32_MAX = 2 ** 31 - 1;

/** The largest value a kernel step and its int32 accumulator can reach for a dot product of `depth` terms. */
export function largestIntermediates(step: KernelStep, maxWeight: number, depth: number): { step: number; stepLimit: number; accumulator: number } {
  const product = step.maxActivation * maxWeight;
  return { step: step.products * product, stepLimit: step.bits === 16 ? INT16_MAX : INT32_MAX, accumulator: depth * product };
}

/** Whether a kernel computes a dot product of `depth` terms exactly for weights of magnitude <= maxWeight. */
export function kernelExact(step: KernelStep, maxWeight: number, depth: number): boolean {
  const m = largestIntermediates(step, maxWeight, depth);
  return m.step <= m.stepLimit && m.accumulator <= INT32_MAX;
}
