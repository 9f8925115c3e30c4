// onnxruntime-node, loaded on first use: backbones runs without it (tfjs only), and a
// missing or broken native install becomes a reason string, not a crash at import time.
import { BackbonesError, errorMessage } from '../errors.js';
import { GraphBuilder } from './graph.js';

export type Ort = typeof import('onnxruntime-node');

let loading: Promise<Ort> | undefined;

/** The onnxruntime-node module; throws BackbonesError E_BACKEND when it cannot load. */
export function loadOrt(): Promise<Ort> {
  loading ??= import('onnxruntime-node').catch((err: unknown) => {
    loading = undefined;
    throw new BackbonesError('E_BACKEND', `onnxruntime-node cannot be loaded: ${errorMessage(err)}`, { cause: err });
  });
  return loading;
}

export type OnnxAvailability = { ok: true; version: string; providers: string[] } | { ok: false; reason: string };

/** A one-node model (Relu): creating a session and running it proves the native binding works. */
function smokeModel(): Uint8Array {
  const g = new GraphBuilder();
  g.reserve('x', 'y');
  g.addInput('x', [2]);
  g.node('Relu', ['x'], 'y', [], 'y');
  g.addOutput('y', [2]);
  return g.encode('smoke', 'smoke');
}

/**
 * Whether ONNX Runtime can run here: its version and the execution providers the
 * installed package lists (those with bundled: false, e.g. cuda, also need the vendor's
 * libraries at run time).
 */
export async function onnxAvailable(): Promise<OnnxAvailability> {
  try {
    const ort = await loadOrt();
    const session = await ort.InferenceSession.create(smokeModel());
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 2), [2]) });
    await session.release();
    const y = out.y?.data as Float32Array | undefined;
    if (!y || y[0] !== 0 || y[1] !== 2) return { ok: false, reason: 'onnxruntime-node ran a Relu and returned a wrong result' };
    const version = ort.env.versions.node ?? ort.env.versions.common;
    return { ok: true, version, providers: ort.listSupportedBackends().map((b) => b.name) };
  } catch (err) {
    return { ok: false, reason: errorMessage(err) };
  }
}
