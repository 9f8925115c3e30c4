// ONNX Runtime (onnxruntime-node) on an export of the Keras model, with its execution
// providers: cpu (MLAS), webgpu (bundled; Vulkan on Linux, Metal, D3D12), and cuda /
// tensorrt when their provider libraries were installed into the package.
import os from 'node:os';
import { tf } from '../tf.js';
import { BackbonesError, usageError } from '../errors.js';
import { log } from '../log.js';
import { GPU_PROVIDERS, providerLibraryInstalled } from './devices.js';
import { TfjsEngine, cpuName, plural, startCpuBackend, tfjsPrepared } from './tfjs-common.js';
import { switchTfjsToWasm } from './tfjs-wasm.js';
import { describeAdapter, probeWebgpu } from './webgpu-probe.js';
import { subBatches } from './batch-plan.js';
import type { BackendChoice, BackendProbe, Engine, EngineDeps, Model, OnnxProbe, PreparedModel, PrecisionRequest, PrepareSpec, WebgpuAdapter } from './types.js';
import type { EngineFamily, StartContext, StartResult } from './family.js';
import type { OnnxSession } from '../onnx/session.js';

const PKG = 'onnxruntime-node';

/** Loaded on demand: onnxruntime-node and the protobuf code are not needed for --help. */
const defaultOnnxProbe: OnnxProbe = async () => (await import('../onnx/ort.js')).onnxAvailable();

/** Whether ONNX Runtime's CUDA provider library was installed into onnxruntime-node. */
export const cudaProviderInstalled = (): boolean => providerLibraryInstalled('cuda');

type Providers = { providers: string[]; adapter: string; gpu: boolean; webgpuAdapter?: WebgpuAdapter };
type Refusal = { refused: string };

/** Providers for an explicit --provider list: every one must be listed, webgpu must really run. */
async function explicitProviders(requested: string[], listed: string[], ctx: StartContext): Promise<Providers | Refusal> {
  const unknown = requested.filter((p) => !listed.includes(p));
  if (unknown.length > 0) throw usageError(`ONNX Runtime execution provider '${unknown[0]}' is not available. This onnxruntime-node lists: ${listed.join(', ')}`);
  const gpu = requested.some((p) => GPU_PROVIDERS.includes(p));
  if (requested.includes('webgpu')) {
    const report = await (ctx.deps.probeWebgpu ?? probeWebgpu)({ ort: 'always' });
    if (report.ortRuns !== true) return { refused: `ONNX Runtime's webgpu provider cannot run here: ${report.reason ?? 'it was not tried'}` };
    // ORT asks Dawn for the high-performance adapter: the probe's first.
    const adapter = report.adapters[0];
    if (ctx.request.device === 'gpu' && (!adapter || adapter.software)) {
      return { refused: `--device gpu needs a hardware GPU, and there is ${report.reason ?? 'none'}; drop --device gpu to run webgpu on it anyway` };
    }
    return { providers: requested, adapter: adapter ? describeAdapter(adapter) : 'unknown WebGPU adapter', gpu, ...(adapter ? { webgpuAdapter: adapter } : {}) };
  }
  return { providers: requested, adapter: gpu ? 'CUDA device' : cpuName(), gpu };
}

/** Providers for --device gpu/auto: CUDA when installed, else WebGPU on a hardware adapter. */
async function gpuProviders(listed: string[], deps: EngineDeps): Promise<Providers | Refusal> {
  if (listed.includes('cuda') && (deps.cudaInstalled ?? cudaProviderInstalled)()) return { providers: ['cuda', 'cpu'], adapter: 'CUDA device', gpu: true };
  if (!listed.includes('webgpu')) return { refused: `this onnxruntime-node has no GPU provider installed (it lists ${listed.join(', ')})` };
  const report = await (deps.probeWebgpu ?? probeWebgpu)({ ort: 'if-hardware' });
  const hardware = report.adapters.find((a) => !a.software);
  if (report.reason !== null || !hardware || report.ortRuns !== true) return { refused: `no GPU for ONNX Runtime: ${report.reason ?? 'no hardware WebGPU adapter'}` };
  return { providers: ['webgpu', 'cpu'], adapter: describeAdapter(hardware), gpu: true, webgpuAdapter: hardware };
}

async function start(ctx: StartContext): Promise<StartResult> {
  const loaded = await (ctx.deps.importOnnx ?? defaultOnnxProbe)();
  if (!loaded.ok) return { ok: false, permanent: true, probe: { candidate: 'onnx', package: PKG, status: 'failed', reason: `onnxruntime-node failed to load: ${loaded.reason}` } };
  const base: BackendProbe = { candidate: 'onnx', package: PKG, status: 'available', reason: 'ONNX Runtime (MLAS kernels, multi-threaded)', version: loaded.version, providers: loaded.providers, device: ctx.device };
  const chosen: Providers | Refusal = ctx.request.providers
    ? await explicitProviders(ctx.request.providers, loaded.providers, ctx)
    : ctx.device === 'gpu'
      ? await gpuProviders(loaded.providers, ctx.deps)
      : { providers: ['cpu'], adapter: cpuName(), gpu: false };
  if ('refused' in chosen) return { ok: false, permanent: ctx.request.providers !== undefined, probe: { ...base, status: 'failed', reason: chosen.refused } };
  // tfjs builds the models and loads their weights on its cpu backend: its tensors are plain JS
  // arrays, so once ONNX Runtime holds its own copy the tfjs one really goes back to the OS.
  await startCpuBackend();
  const threads = ctx.request.threads ?? os.availableParallelism();
  const device = chosen.gpu ? 'gpu' : 'cpu';
  return {
    ok: true,
    probe: { ...base, device, ...(chosen.providers[0] !== 'cpu' ? { reason: `ONNX Runtime (${chosen.providers[0]} on ${chosen.adapter})` } : {}) },
    details: {
      backend: 'onnx',
      label: `onnx (onnxruntime-node ${loaded.version}, ${chosen.providers.join('+')}, ${plural(threads, 'thread')})`,
      threads,
      device,
      provider: chosen.providers[0]!,
      adapter: chosen.adapter,
      gpu: chosen.gpu,
      ...(chosen.webgpuAdapter ? { webgpuAdapter: chosen.webgpuAdapter } : {}),
      onnx: { version: loaded.version, providers: loaded.providers, executionProviders: chosen.providers, threads },
    },
  };
}

/**
 * ONNX Runtime on a tfjs batch; returns the named output as a tfjs tensor. tfjs' cpu
 * backend hands over the batch's own Float32Array and wraps the output's without a copy,
 * so the pixels are copied once, by ORT, into the session (onto the GPU with webgpu). A
 * batch larger than its measured best size runs as sub-batches (views of the same array),
 * their outputs written into one array.
 */
async function runSession(session: OnnxSession, batch: tf.Tensor4D, output: string, subBatch?: (n: number) => number): Promise<tf.Tensor> {
  const input = (await batch.data()) as Float32Array;
  const [n, ...rest] = batch.shape;
  const size = Math.max(1, Math.min(n, subBatch?.(n) ?? n));
  if (size >= n) {
    const out = (await session.run(input, batch.shape as [number, number, number, number], [output]))[output]!;
    return tf.tensor(out.data, out.dims, 'float32');
  }
  const per = input.length / n;
  let data: Float32Array | undefined;
  let dims: number[] = [];
  for (const [start, end] of subBatches(n, size)) {
    const out = (await session.run(input.subarray(start * per, end * per), [end - start, ...rest] as [number, number, number, number], [output]))[output]!;
    const row = out.data.length / (end - start);
    if (!data) {
      data = new Float32Array(n * row);
      dims = [n, ...out.dims.slice(1)];
    }
    data.set(out.data, start * row);
  }
  return tf.tensor(data!, dims, 'float32');
}

export class OnnxRuntimeEngine implements Engine {
  constructor(readonly choice: BackendChoice) {}

  /** Exports the model (or reuses the cached .onnx), or obtains its int8 model, and opens a session exposing spec.outputs. */
  async prepare(model: Model, spec: PrepareSpec): Promise<PreparedModel> {
    if (!(model instanceof tf.LayersModel)) {
      const why = 'graph models cannot be exported to ONNX (the exporter reads Keras layers)';
      if (spec.precision?.precision === 'fp16') throw new BackbonesError('E_USAGE', `${spec.name} cannot run at --precision fp16: ${why}.`);
      return this.fallback(model, spec, why);
    }
    const { OnnxSession, OnnxExportError, weightsHash, onnxCacheKey } = await import('../onnx/index.js');
    const onnx = this.choice.onnx!;
    try {
      const asked = spec.precision?.precision ?? 'fp32';
      const int8 = asked === 'int8' ? await this.int8Model(model, spec, spec.precision!) : undefined;
      // fp16 is an export of its own (cached beside fp32's); int8 is a model of its own.
      const precision = asked === 'fp16' ? 'fp16' : 'fp32';
      const cacheKey = !int8 && spec.cacheDir ? onnxCacheKey({ weightsHash: await weightsHash(model), architecture: spec.architecture, outputs: spec.outputs, precision }) : undefined;
      const session = await OnnxSession.create(model, {
        outputs: spec.outputs,
        precision,
        threads: onnx.threads,
        executionProviders: onnx.executionProviders,
        ...(int8 ? { prebuilt: int8.bytes } : cacheKey ? { cacheKey, cacheDir: spec.cacheDir } : {}),
      });
      log.debug(`${spec.name}: ONNX ${int8 ? `int8 model ${int8.origin.made ? 'made and cached at' : 'from'} ${int8.origin.file}` : session.exported ? 'exported' : 'reused from cache'}${precision !== 'fp32' ? ` (${precision})` : ''}${session.modelPath ? ` (${session.modelPath})` : ''}, ${session.threads} threads, providers ${session.executionProviders.join(',')}`);
      return {
        engineName: 'onnx',
        ownsWeights: true,
        precision: int8 ? 'int8' : precision,
        ...(int8 ? { int8: int8.origin } : {}),
        run: (batch, output) => runSession(session, batch, output ?? session.outputNames[0]!, spec.subBatch),
        dispose: () => session.dispose(),
      };
    } catch (e) {
      // fp16 exists only as an export: running fp32 on tfjs instead would not be what was asked.
      if (e instanceof OnnxExportError && spec.precision?.precision !== 'fp16') return this.fallback(model, spec, e.message);
      throw e;
    }
  }

  /**
   * The int8 model (onnx/quantize: read from --int8-model or the cache, or calibrated now).
   * Under auto, a model the quantizer cannot handle runs fp32 with a warning (undefined).
   */
  private async int8Model(model: tf.LayersModel, spec: PrepareSpec, request: PrecisionRequest) {
    const { int8ModelFor, int8ForThisCpu } = await import('../onnx/quantize/index.js');
    try {
      const found = await int8ModelFor({ model, ...request.subject }, request.int8 ?? {}, spec.outputs, this.choice.onnx!.threads);
      // Weights in the encoding this CPU computes exactly (a file made on another kind of CPU is re-encoded, or refused).
      const fitted = await int8ForThisCpu(found.bytes, found.origin.file);
      if (fitted.note) log.info(fitted.note);
      return { ...found, bytes: fitted.bytes };
    } catch (e) {
      if (request.fallback && e instanceof BackbonesError && e.code === 'E_MODEL') {
        log.warn(`${spec.name} runs in fp32: ${e.message}`);
        return undefined;
      }
      throw e;
    }
  }

  /** auto: a model the exporter cannot handle runs on tfjs (wasm) instead; an explicit onnx request fails. */
  private async fallback(model: Model, spec: PrepareSpec, why: string): Promise<PreparedModel> {
    if (this.choice.requested !== 'auto') throw new BackbonesError('E_BACKEND', `${spec.name} cannot run on the onnx backend: ${why}. Use --backend wasm.`);
    await switchTfjsToWasm();
    const backend = tf.getBackend();
    this.choice.tfjsBackend = backend;
    const { onnx: _onnx, ...rest } = this.choice;
    const engine = new TfjsEngine({ ...rest, backend, label: `${backend} (TensorFlow.js, instead of ONNX Runtime)`, device: 'cpu', provider: backend, adapter: cpuName(), gpu: false, reason: `${spec.name} cannot run on ONNX Runtime: ${why}` });
    return tfjsPrepared(model, spec, { engine, reason: why });
  }

  async dispose(): Promise<void> {}
}

export const family: EngineFamily = {
  start,
  create: (choice) => new OnnxRuntimeEngine(choice),
  async probe(deps) {
    const ort = await (deps.importOnnx ?? defaultOnnxProbe)();
    return ort.ok
      ? { candidate: 'onnx', package: PKG, status: 'available', reason: `ONNX Runtime; execution providers: ${ort.providers.join(', ')}`, version: ort.version, providers: ort.providers }
      : { candidate: 'onnx', package: PKG, status: /Cannot find (package|module)/.test(ort.reason) ? 'not-installed' : 'failed', reason: `onnxruntime-node: ${ort.reason}` };
  },
};
