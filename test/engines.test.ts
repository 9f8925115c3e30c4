// Engine selection (src/engines): what auto picks and why, --device and --provider,
// explicit requests that cannot start. The native packages, ONNX Runtime and the WebGPU
// probe are injected, so every assertion holds on any machine (CPU-only or GPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startEngine, probeEngines } from '../src/engines/select.js';
import { parseBackendRequest, BACKENDS, BACKEND_CHOICES } from '../src/engines/backends.js';
import { resolveRequest } from '../src/engines/request.js';
import { webgpuReport } from '../src/engines/webgpu-probe.js';
import { BackbonesError } from '../src/errors.js';
import { tf } from '../src/tf.js';
import { fakeProber, HARDWARE, NO_LOADER, SOFTWARE_ONLY, LLVMPIPE, HOPPER } from './helpers/webgpu.js';

const cudaMissing = async (pkg: string): Promise<unknown> => {
  if (pkg === '@tensorflow/tfjs-node-gpu') throw new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory');
  const err = new Error(`Cannot find package '${pkg}' imported from backend.js`) as Error & { code: string };
  err.code = 'ERR_MODULE_NOT_FOUND';
  throw err;
};
const onnxBroken = async () => ({ ok: false as const, reason: 'libonnxruntime.so.1: cannot open shared object file' });
const noCuda = () => false;
/** A machine with no native TensorFlow, no CUDA provider, and only lavapipe. */
const cpuMachine = () => ({ importNative: cudaMissing, cudaInstalled: noCuda, probeWebgpu: fakeProber(SOFTWARE_ONLY), env: {} });

test('an explicitly requested backend that cannot load is an error naming the reason', async () => {
  await assert.rejects(startEngine({ backend: 'tensorflow' }, cpuMachine()), (err: unknown) => {
    assert.ok(err instanceof BackbonesError);
    assert.equal(err.code, 'E_BACKEND');
    assert.match(err.message, /tensorflow backend cannot start/);
    assert.match(err.message, /tfjs-node-gpu failed to load: libcudart\.so\.11\.0/);
    assert.match(err.message, /@tensorflow\/tfjs-node is not installed/);
    return true;
  });
});

test('auto falls back to wasm and records why each native build and onnx were skipped', async () => {
  const { choice } = await startEngine({}, { ...cpuMachine(), importOnnx: onnxBroken });
  assert.equal(choice.backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  // GPU candidates first (a package that cannot load is not tried again for the CPU), then CPU ones.
  assert.deepEqual(
    choice.attempts.map((a) => [a.candidate, a.status]),
    [['tensorflow-gpu', 'failed'], ['onnx', 'failed'], ['tensorflow', 'not-installed'], ['wasm', 'available']],
  );
  assert.match(choice.reason, /auto chose wasm because .*libcudart/);
  assert.match(choice.label, /^wasm \((SIMD|no SIMD), \d+ threads?\)$/);
  assert.equal(choice.device, 'cpu');
  assert.equal(choice.provider, 'wasm');
  assert.ok(choice.threads >= 1);
  // The backend really computes.
  assert.deepEqual(Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync()), [2, 3]);
});

test('auto prefers onnx over wasm when onnxruntime-node runs; tfjs still builds the models', async () => {
  const { choice } = await startEngine({}, cpuMachine());
  assert.equal(choice.backend, 'onnx');
  // tfjs builds the models on its cpu backend (memory that can be freed after the export).
  assert.equal(choice.tfjsBackend, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.match(choice.label, /^onnx \(onnxruntime-node \d+\.\d+\.\d+, cpu, \d+ threads?\)$/);
  assert.deepEqual(choice.onnx!.executionProviders, ['cpu']);
  assert.equal(choice.threads, choice.onnx!.threads);
  assert.equal(choice.device, 'cpu');
  assert.equal(choice.provider, 'cpu');
});

test('auto never picks a software WebGPU adapter, and says so', async () => {
  const { choice } = await startEngine({}, cpuMachine());
  assert.equal(choice.device, 'cpu');
  assert.equal(choice.gpu, false);
  assert.match(choice.reason, /no GPU for ONNX Runtime: only a software adapter \(llvmpipe/);
  assert.deepEqual(
    choice.attempts.filter((a) => a.candidate === 'onnx').map((a) => [a.device, a.status]),
    [['gpu', 'failed'], ['cpu', 'available']],
  );
});

test('auto takes a hardware WebGPU adapter when ONNX Runtime runs on it', async () => {
  const { choice } = await startEngine({}, { ...cpuMachine(), probeWebgpu: fakeProber(HARDWARE) });
  assert.equal(choice.backend, 'onnx');
  assert.equal(choice.device, 'gpu');
  assert.equal(choice.provider, 'webgpu');
  assert.deepEqual(choice.onnx!.executionProviders, ['webgpu', 'cpu']);
  assert.equal(choice.adapter, 'NVIDIA: 580.95.05 (nvidia, hopper, hardware)');
  assert.match(choice.label, /^onnx \(onnxruntime-node [\d.]+, webgpu\+cpu, \d+ threads?\)$/);
});

test('the CUDA provider, when its library is installed, goes before WebGPU', async () => {
  const probe = fakeProber(HARDWARE);
  const { choice } = await startEngine({ device: 'gpu' }, { ...cpuMachine(), cudaInstalled: () => true, probeWebgpu: probe });
  assert.deepEqual(choice.onnx!.executionProviders, ['cuda', 'cpu']);
  assert.equal(choice.device, 'gpu');
  assert.equal(probe.calls, 0, 'no WebGPU probe needed');
});

test('--device gpu where no hardware GPU works is an error naming the reason, never a CPU run', async () => {
  for (const [report, why] of [
    [SOFTWARE_ONLY, /only a software adapter \(llvmpipe/],
    [NO_LOADER, /no Vulkan loader \(libvulkan\.so\.1 not found/],
  ] as const) {
    await assert.rejects(startEngine({ device: 'gpu' }, { ...cpuMachine(), probeWebgpu: fakeProber(report) }), (err: unknown) => {
      assert.ok(err instanceof BackbonesError);
      assert.equal(err.exitCode, 1);
      assert.match(err.message, /^--device gpu: no GPU engine could start: /);
      assert.match(err.message, /tfjs-node-gpu failed to load/);
      assert.match(err.message, why);
      return true;
    });
  }
});

test('--device cpu never probes the GPU', async () => {
  const probe = fakeProber(HARDWARE);
  const { choice } = await startEngine({ device: 'cpu' }, { ...cpuMachine(), probeWebgpu: probe });
  assert.equal(choice.device, 'cpu');
  assert.deepEqual(choice.onnx!.executionProviders, ['cpu']);
  assert.equal(probe.calls, 0);
});

test('--provider webgpu uses a software adapter when asked; --device gpu with it is refused', async () => {
  const software = { ...SOFTWARE_ONLY, ortRuns: true };
  const { choice } = await startEngine({ providers: ['webgpu'] }, { ...cpuMachine(), probeWebgpu: fakeProber(software) });
  assert.equal(choice.backend, 'onnx');
  assert.deepEqual(choice.onnx!.executionProviders, ['webgpu']);
  assert.equal(choice.adapter, 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6) (mesa, software)');
  assert.match(choice.reason, /^--provider webgpu was requested/);
  await assert.rejects(
    startEngine({ providers: ['webgpu'], device: 'gpu' }, { ...cpuMachine(), probeWebgpu: fakeProber(software) }),
    /The onnx backend cannot start: --device gpu needs a hardware GPU, and there is only a software adapter \(llvmpipe/,
  );
  // A provider that cannot run is an error, not a fallback to the CPU.
  await assert.rejects(startEngine({ providers: ['webgpu', 'cpu'] }, { ...cpuMachine(), probeWebgpu: fakeProber(NO_LOADER) }), /webgpu provider cannot run here: no Vulkan loader/);
});

test('--provider must name providers this onnxruntime-node lists', async () => {
  await assert.rejects(startEngine({ providers: ['metal'] }, cpuMachine()), (err: unknown) => {
    assert.ok(err instanceof BackbonesError);
    assert.equal(err.exitCode, 2);
    assert.match(err.message, /execution provider 'metal' is not available\. This onnxruntime-node lists: cpu, webgpu/);
    return true;
  });
});

test('an explicit onnx request with a broken onnxruntime-node is an error naming the reason', async () => {
  await assert.rejects(startEngine({ backend: 'onnx' }, { ...cpuMachine(), importOnnx: onnxBroken }), /The onnx backend cannot start: onnxruntime-node failed to load: libonnxruntime\.so\.1/);
});

test('--threads sets the onnx intra-op threads', async () => {
  const { choice } = await startEngine({ backend: 'onnx', threads: 1 }, cpuMachine());
  assert.equal(choice.onnx!.threads, 1);
  assert.match(choice.label, /, 1 thread\)$/);
});

test('cpu can be requested explicitly', async () => {
  const { choice } = await startEngine({ backend: 'cpu' }, cpuMachine());
  assert.equal(choice.backend, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(choice.reason, 'cpu was requested');
});

test('requests are checked before anything loads; the environment fills in defaults', () => {
  assert.throws(() => resolveRequest({ backend: 'wasm', providers: ['webgpu'] }, {}), /--provider chooses ONNX Runtime's execution providers; it does not apply to --backend wasm/);
  assert.throws(() => resolveRequest({ device: 'cpu', providers: ['webgpu'] }, {}), /--device cpu contradicts --provider webgpu/);
  assert.throws(() => resolveRequest({ device: 'gpu', providers: ['cpu'] }, {}), /--device gpu needs a GPU provider/);
  assert.throws(() => resolveRequest({ device: 'tpu' }, {}), /Unknown device "tpu": valid devices are auto, cpu, gpu/);
  assert.deepEqual(resolveRequest({}, { BACKBONES_DEVICE: 'cpu', BACKBONES_ONNX_PROVIDERS: ' cpu ' }), { backend: 'auto', device: 'cpu', providers: ['cpu'] });
  // An explicit value wins; providers: [] means none whatever the environment says.
  assert.deepEqual(resolveRequest({ device: 'auto', providers: [] }, { BACKBONES_DEVICE: 'gpu', BACKBONES_ONNX_PROVIDERS: 'webgpu' }), { backend: 'auto', device: 'auto' });
});

test('a CPU-only backend with --device gpu is a usage error', async () => {
  await assert.rejects(startEngine({ backend: 'wasm', device: 'gpu' }, cpuMachine()), /The wasm backend computes on the CPU only/);
});

test('probeEngines reports not-installed vs failed-to-load with reasons, and the WebGPU adapters', async () => {
  const { backends, webgpu } = await probeEngines({ importNative: cudaMissing, importOnnx: onnxBroken, probeWebgpu: fakeProber(SOFTWARE_ONLY) });
  const byName = Object.fromEntries(backends.map((p) => [p.candidate, p]));
  assert.deepEqual(backends.map((b) => b.candidate), BACKENDS.map((r) => r.candidate));
  assert.equal(byName['onnx']!.status, 'failed');
  assert.match(byName['onnx']!.reason, /libonnxruntime/);
  assert.equal(byName['tensorflow-gpu']!.status, 'failed');
  assert.equal(byName['tensorflow']!.status, 'not-installed');
  assert.equal(byName['wasm']!.status, 'available');
  assert.equal(byName['cpu']!.status, 'available');
  assert.deepEqual(webgpu.adapters, [LLVMPIPE]);
});

test('backend names come from the one table and are validated', () => {
  assert.deepEqual(BACKEND_CHOICES, ['auto', 'tensorflow', 'onnx', 'wasm', 'cpu']);
  assert.equal(parseBackendRequest(undefined), 'auto');
  assert.equal(parseBackendRequest('WASM'), 'wasm');
  assert.equal(parseBackendRequest('onnx'), 'onnx');
  assert.throws(() => parseBackendRequest('cuda'), /valid backends are auto, tensorflow, onnx, wasm, cpu/);
});

test('the WebGPU probe names the reason: loader, drivers, adapters, software, ONNX Runtime, a hang', () => {
  const raw = (a: typeof HOPPER) => ({ vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description, features: a.features, fallback: false });
  const listed = (adapters: ReturnType<typeof raw>[], ortRuns: boolean | null = null, ortError: string | null = null) => ({ adapters, listing: 'Dawn (webgpu package)', ortRuns, ortError });
  const sys = (vulkanLoader: boolean | null, vulkanDrivers: string[]) => ({ vulkanLoader, vulkanDrivers });
  assert.match(webgpuReport(listed([]), undefined, sys(false, []))!.reason!, /^no Vulkan loader \(libvulkan\.so\.1 not found: install libvulkan1\)$/);
  assert.match(webgpuReport(listed([]), undefined, sys(true, []))!.reason!, /^no Vulkan driver .*graphics capability/);
  assert.match(webgpuReport(listed([]), undefined, sys(true, ['nvidia_icd.json']))!.reason!, /^no WebGPU adapter: the Vulkan drivers here \(nvidia_icd\.json\) offer none .*driver too old/);
  const soft = webgpuReport(listed([raw(LLVMPIPE)]), undefined, sys(true, ['lvp_icd.json']));
  assert.equal(soft.adapters[0]!.software, true, 'architecture "software" marks lavapipe');
  assert.match(soft.reason!, /^only a software adapter \(llvmpipe/);
  const fallback = webgpuReport(listed([{ ...raw(HOPPER), fallback: true }]), undefined, sys(true, ['x.json']));
  assert.equal(fallback.adapters[0]!.software, true, "Dawn's fallback adapter counts as software");
  const hw = webgpuReport(listed([raw(HOPPER)], true), undefined, sys(true, ['nvidia_icd.json']));
  assert.equal(hw.reason, null);
  assert.equal(hw.adapters[0]!.software, false);
  const ortFails = webgpuReport(listed([raw(HOPPER)], false, 'Failed to create the WebGPU device'), undefined, sys(true, ['nvidia_icd.json']));
  assert.match(ortFails.reason!, /^ONNX Runtime's webgpu provider failed on NVIDIA: 580\.95\.05 \(nvidia, hopper, hardware\): Failed to create the WebGPU device$/);
  assert.match(webgpuReport(undefined, 'the WebGPU probe did not answer within 30 s (a hung GPU driver?)', sys(true, []))!.reason!, /did not answer within 30 s/);
});
