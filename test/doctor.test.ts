// `backbones doctor` through the built binary: schema, GPU parsing with a fake
// nvidia-smi first on PATH, and its absence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers/cli.js';
import { PATH_WITHOUT_GPU, pathWithFakeNvidiaSmi } from './helpers/gpu.js';


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
  // This machine has no native TensorFlow: auto picks ONNX Runtime (before wasm) and says why.
  assert.equal(d.auto.backend, 'onnx');
  assert.match(d.auto.reason, /tfjs-node-gpu is not installed/);
  assert.deepEqual(d.auto.onnxExecutionProviders, ['cpu']);
  const onnx = d.backends.find((b: { candidate: string }) => b.candidate === 'onnx');
  assert.equal(onnx.status, 'available');
  assert.ok(onnx.providers.includes('cpu'));
  assert.equal(d.wasmThreads, 1);
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
  assert.match(text.stdout, /auto picks\s+onnx/);
});

test('human doctor output names each backend and the cache', async () => {
  const r = await runCli(['doctor'], { env: { PATH: PATH_WITHOUT_GPU } });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /tensorflow-gpu\s+not installed/);
  assert.match(r.stdout, /wasm\s+available/);
  assert.match(r.stdout, /nvidia-smi not found/);
  assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour codes when not a TTY');
});
