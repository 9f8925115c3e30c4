// `backbones doctor` through the built binary: schema, GPU parsing with a fake
// nvidia-smi first on PATH, and its absence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers/cli.js';
import { PATH_WITHOUT_GPU, pathWithFakeNvidiaSmi } from './helpers/gpu.js';
import { skipWithoutLavapipe } from './helpers/webgpu.js';

interface Probe {
  candidate: string;
  status: string;
  reason: string;
}


test('doctor --json gives one object with every section', async () => {
  const r = await runCli(['doctor', '--json'], { env: { PATH: PATH_WITHOUT_GPU, BACKBONES_CACHE: '/tmp/bb-cache-test' } });
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.match(d.node, /^v\d+/);
  assert.equal(typeof d.tfjs, 'string');
  assert.ok(d.cpu.logicalCores >= 1);
  assert.equal(typeof d.cpu.model, 'string');
  assert.ok(d.memory.totalByte > d.memory.freeByte && d.memory.freeByte > 0);
  assert.deepEqual(d.backends.map((b: { candidate: string }) => b.candidate), ['tensorflow-gpu', 'tensorflow', 'onnx', 'wasm', 'cpu']);
  for (const b of d.backends) assert.ok(['available', 'not-installed', 'failed'].includes(b.status) && b.reason.length > 0);
  // Relations, not this machine's values: they hold on CPU-only and GPU machines alike.
  // Without a native TensorFlow that loads, auto picks ONNX Runtime (before wasm) and says why.
  const natives = (d.backends as Probe[]).filter((b) => b.candidate.startsWith('tensorflow'));
  if (natives.every((b) => b.status !== 'available')) {
    assert.equal(d.auto.backend, 'onnx');
    for (const b of natives) if (!b.reason.startsWith('not probed')) assert.ok(d.auto.reason.includes(b.reason), `${d.auto.reason} names ${b.reason}`);
  }
  // auto is on a GPU exactly when --device gpu works; otherwise ONNX Runtime runs on the CPU provider.
  if (d.gpu.available) {
    assert.equal(d.auto.device, 'gpu');
    assert.equal(d.auto.adapter, d.gpu.adapter);
  } else {
    assert.equal(d.auto.device, 'cpu');
    if (d.auto.backend === 'onnx') assert.deepEqual(d.auto.onnxExecutionProviders, ['cpu']);
    assert.match(d.gpu.reason, /^--device gpu: no GPU engine could start: /);
    if (d.webgpu.reason) assert.ok(d.gpu.reason.includes(d.webgpu.reason), 'the WebGPU reason is named');
  }
  const onnx = d.backends.find((b: { candidate: string }) => b.candidate === 'onnx');
  assert.equal(onnx.status, 'available');
  assert.ok(onnx.providers.includes('cpu'));
  assert.ok(Number.isInteger(d.wasmThreads) && d.wasmThreads >= 1);
  for (const a of d.webgpu.adapters) assert.ok(typeof a.software === 'boolean' && Array.isArray(a.features) && a.description.length > 0);
  assert.deepEqual(d.gpus, { available: false, reason: 'nvidia-smi not found', devices: [] });
  assert.equal(d.cacheDir, '/tmp/bb-cache-test');
});

test('doctor parses GPUs from nvidia-smi', async () => {
  const PATH = pathWithFakeNvidiaSmi(`case "$*" in
  *--query-gpu*) echo "0, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 1024, 3" ;;
  *) echo "" ;;
esac
`);
  const r = await runCli(['doctor', '--json'], { env: { PATH } });
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.equal(d.gpus.available, true);
  assert.deepEqual(d.gpus.devices, [
    { name: 'NVIDIA H100 80GB HBM3', driver: '550.54.15', memoryTotalByte: 81559 * 1048576, memoryUsedByte: 1024 * 1048576 },
  ]);
  const text = await runCli(['doctor'], { env: { PATH } });
  assert.match(text.stdout, /NVIDIA H100 80GB HBM3, driver 550\.54\.15, 79\.6 GiB total, 1\.0 GiB used/);
  assert.match(text.stdout, new RegExp(`auto picks\\s+${d.auto.backend} \\(`));
});

test('human doctor output names each backend and the cache', async () => {
  const [r, json] = await Promise.all([runCli(['doctor'], { env: { PATH: PATH_WITHOUT_GPU } }), runCli(['doctor', '--json'], { env: { PATH: PATH_WITHOUT_GPU } })]);
  assert.equal(r.code, 0);
  const words: Record<string, string> = { available: 'available', 'not-installed': 'not installed', failed: 'failed to load' };
  for (const b of JSON.parse(json.stdout).backends as Probe[]) assert.match(r.stdout, new RegExp(`\\n  ${b.candidate}\\s*${words[b.status]}  `));
  assert.match(r.stdout, /wasm\s+available/);
  assert.match(r.stdout, /\nwebgpu\n  vulkan loader /);
  assert.match(r.stdout, /  --device gpu  /);
  assert.match(r.stdout, /nvidia-smi not found/);
  assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour codes when not a TTY');
});

test('doctor lists the WebGPU adapters: lavapipe as software, with its features', { skip: skipWithoutLavapipe() }, async () => {
  const r = await runCli(['doctor', '--json'], { env: { PATH: PATH_WITHOUT_GPU } });
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  const lavapipe = d.webgpu.adapters.find((a: { description: string }) => /llvmpipe/.test(a.description));
  assert.ok(lavapipe, JSON.stringify(d.webgpu));
  assert.equal(lavapipe.software, true);
  assert.equal(d.webgpu.vulkanLoader, true);
  assert.ok(d.webgpu.vulkanDrivers.includes('lvp_icd.json'));
  // auto never runs on it (a hardware GPU, when present, is what auto takes).
  assert.doesNotMatch(d.auto.adapter, /llvmpipe/);
  const text = await runCli(['doctor'], { env: { PATH: PATH_WITHOUT_GPU } });
  assert.match(text.stdout, new RegExp(`adapter\\s+llvmpipe.*\\(mesa, software\\); shader-f16 ${lavapipe.features.includes('shader-f16') ? 'yes' : 'no'}`));
});
