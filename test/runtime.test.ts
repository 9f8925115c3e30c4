// Backend selection: what auto picks and why, and explicit requests that cannot start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, parseBackendRequest, probeBackends } from '../src/runtime/backend.js';
import { BackbonesError } from '../src/errors.js';
import { tf } from '../src/runtime/tf.js';

const cudaMissing = async (pkg: string): Promise<unknown> => {
  if (pkg === '@tensorflow/tfjs-node-gpu') throw new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory');
  const err = new Error(`Cannot find package '${pkg}' imported from backend.js`) as Error & { code: string };
  err.code = 'ERR_MODULE_NOT_FOUND';
  throw err;
};

test('an explicitly requested backend that cannot load is an error naming the reason', async () => {
  await assert.rejects(initBackend('tensorflow', { importNative: cudaMissing }), (err: unknown) => {
    assert.ok(err instanceof BackbonesError);
    assert.equal(err.code, 'E_BACKEND');
    assert.match(err.message, /tensorflow backend cannot start/);
    assert.match(err.message, /tfjs-node-gpu failed to load: libcudart\.so\.11\.0/);
    assert.match(err.message, /@tensorflow\/tfjs-node is not installed/);
    return true;
  });
});

const onnxBroken = async () => ({ ok: false as const, reason: 'libonnxruntime.so.1: cannot open shared object file' });

test('auto falls back to wasm and records why each native build and onnx were skipped', async () => {
  const choice = await initBackend('auto', { importNative: cudaMissing, importOnnx: onnxBroken });
  assert.equal(choice.backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(
    choice.attempts.map((a) => [a.candidate, a.status]),
    [['tensorflow-gpu', 'failed'], ['tensorflow', 'not-installed'], ['onnx', 'failed'], ['wasm', 'available']],
  );
  assert.match(choice.reason, /auto chose wasm because .*libcudart/);
  assert.match(choice.label, /^wasm \((SIMD|no SIMD), \d+ threads?\)$/);
  assert.ok(choice.threads >= 1);
  // The backend really computes.
  assert.deepEqual(Array.from(tf.add(tf.tensor1d([1, 2]), 1).dataSync()), [2, 3]);
});

test('auto prefers onnx over wasm when onnxruntime-node runs; tfjs still builds the models', async () => {
  const choice = await initBackend('auto', { importNative: cudaMissing });
  assert.equal(choice.backend, 'onnx');
  // tfjs builds the models on its cpu backend (memory that can be freed after the export).
  assert.equal(choice.tfjsBackend, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.match(choice.label, /^onnx \(onnxruntime-node \d+\.\d+\.\d+, cpu, \d+ threads?\)$/);
  assert.deepEqual(choice.onnx!.executionProviders, ['cpu']);
  assert.equal(choice.threads, choice.onnx!.threads);
});

test('an explicit onnx request with a broken onnxruntime-node is an error naming the reason', async () => {
  await assert.rejects(initBackend('onnx', { importOnnx: onnxBroken }), /The onnx backend cannot start: onnxruntime-node failed to load: libonnxruntime\.so\.1/);
});

test('--threads sets the onnx intra-op threads', async () => {
  const choice = await initBackend('onnx', { threads: 1 });
  assert.equal(choice.onnx!.threads, 1);
  assert.match(choice.label, /, 1 thread\)$/);
});

test('cpu can be requested explicitly', async () => {
  const choice = await initBackend('cpu');
  assert.equal(choice.backend, 'cpu');
  assert.equal(tf.getBackend(), 'cpu');
  assert.equal(choice.reason, 'cpu was requested');
});

test('probeBackends reports not-installed vs failed-to-load with reasons', async () => {
  const probes = await probeBackends({ importNative: cudaMissing, importOnnx: onnxBroken });
  const byName = Object.fromEntries(probes.map((p) => [p.candidate, p]));
  assert.equal(byName['onnx']!.status, 'failed');
  assert.match(byName['onnx']!.reason, /libonnxruntime/);
  assert.equal(byName['tensorflow-gpu']!.status, 'failed');
  assert.equal(byName['tensorflow']!.status, 'not-installed');
  assert.equal(byName['wasm']!.status, 'available');
  assert.equal(byName['cpu']!.status, 'available');
});

test('backend names are validated', () => {
  assert.equal(parseBackendRequest(undefined), 'auto');
  assert.equal(parseBackendRequest('WASM'), 'wasm');
  assert.equal(parseBackendRequest('onnx'), 'onnx');
  assert.throws(() => parseBackendRequest('cuda'), /valid backends are auto, tensorflow, onnx, wasm, cpu/);
});
