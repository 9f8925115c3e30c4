// Finds the WebGPU adapters and checks that ONNX Runtime's webgpu provider runs on one.
// It runs in a child process with a time limit: a broken GPU driver can hang or crash
// whoever touches it, and that must not be the CLI. Done at most once per process and
// kept in memory only: nothing on disk can go stale across driver updates.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WebgpuAdapter, WebgpuReport } from './types.js';

const require = createRequire(import.meta.url);
const MARK = '@@backbones-webgpu-probe ';
export const PROBE_TIMEOUT_MS = 30_000;

/** The child: lists adapters with Dawn (the `webgpu` package), then runs a Relu on ORT's webgpu provider. */
const CHILD = `
const args = JSON.parse(process.argv[1]);
const out = { adapters: [], listing: '', ortRuns: null, ortError: null };
const emit = () => { process.stdout.write('\\n${MARK}' + JSON.stringify(out) + '\\n', () => process.exit(0)); };
try {
  if (!args.webgpu) out.listing = 'the webgpu package (Dawn) is not installed';
  else {
    const { create } = await import(args.webgpu);
    const gpu = create([]);
    const seen = new Map();
    for (const options of [{ powerPreference: 'high-performance' }, { powerPreference: 'low-power' }, { forceFallbackAdapter: true }]) {
      let a = null;
      try { a = await gpu.requestAdapter(options); } catch {}
      if (!a) continue;
      const i = a.info ?? {};
      const key = [i.vendor, i.architecture, i.device, i.description].join('|');
      if (!seen.has(key)) seen.set(key, { vendor: i.vendor ?? '', architecture: i.architecture ?? '', device: i.device ?? '', description: i.description ?? '', fallback: Boolean(i.isFallbackAdapter ?? a.isFallbackAdapter), features: [...a.features].sort() });
    }
    out.adapters = [...seen.values()];
    out.listing = 'Dawn (webgpu package)';
  }
} catch (e) { out.listing = 'listing failed: ' + (e && e.message ? e.message : String(e)); }
const software = (a) => a.fallback || a.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(a.device + ' ' + a.description);
if (args.ortModule && (args.ort === 'always' || (args.ort === 'if-hardware' && out.adapters.some((a) => !software(a))))) {
  try {
    const m = await import(args.ortModule);
    const ort = m.InferenceSession ? m : m.default;
    const session = await ort.InferenceSession.create(Buffer.from(args.model, 'base64'), { executionProviders: ['webgpu'] });
    const r = await session.run({ x: new ort.Tensor('float32', Float32Array.of(-1, 2), [2]) });
    const y = r.y.data;
    out.ortRuns = y[0] === 0 && y[1] === 2;
    if (!out.ortRuns) out.ortError = 'a Relu on the webgpu provider returned a wrong result';
    await session.release();
  } catch (e) { out.ortRuns = false; out.ortError = e && e.message ? e.message : String(e); }
}
emit();
`;

/** Software rasterisers and Dawn's fallback adapter: never chosen by auto. */
export function isSoftwareAdapter(a: { fallback?: boolean; architecture: string; device: string; description: string }): boolean {
  return Boolean(a.fallback) || a.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${a.device} ${a.description}`);
}

/** "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6) (mesa, software)": what logs and doctor print for an adapter. */
export function describeAdapter(a: WebgpuAdapter): string {
  const name = a.description || a.device || 'unnamed adapter';
  const tags = [a.vendor, a.architecture !== 'software' ? a.architecture : '', a.software ? 'software' : 'hardware'].filter(Boolean);
  return `${name} (${tags.join(', ')})`;
}

function resolveOptional(pkg: string): string | null {
  try {
    return pathToFileURL(require.resolve(pkg)).href;
  } catch {
    return null;
  }
}

/** Linux: whether the Vulkan loader can be found where the dynamic linker looks. */
export function findVulkanLoader(env: NodeJS.ProcessEnv = process.env): boolean | null {
  if (process.platform !== 'linux') return null;
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), `/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib'];
  return dirs.some((d) => existsSync(path.join(d, 'libvulkan.so.1')));
}

/** Vulkan driver manifests (ICDs) the loader would read. */
export function findVulkanDrivers(env: NodeJS.ProcessEnv = process.env): string[] {
  const explicit = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  if (explicit) return explicit.split(':').filter((f) => f && existsSync(f)).map((f) => path.basename(f));
  const dirs = ['/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  const found: string[] = [];
  for (const d of dirs) {
    try {
      for (const f of readdirSync(d)) if (f.endsWith('.json')) found.push(f);
    } catch {
      // absent directory
    }
  }
  return found;
}

/** A one-node ONNX model (y = Relu(x), x of 2 floats), built by our own writer. */
async function reluModel(): Promise<string> {
  const { GraphBuilder } = await import('../onnx/graph.js');
  const g = new GraphBuilder();
  g.reserve('x', 'y');
  g.addInput('x', [2]);
  g.node('Relu', ['x'], 'y', [], 'y');
  g.addOutput('y', [2]);
  return Buffer.from(g.encode('webgpu-probe', 'webgpu-probe')).toString('base64');
}

export interface ChildAnswer {
  adapters: Array<Omit<WebgpuAdapter, 'software'> & { fallback: boolean }>;
  listing: string;
  ortRuns: boolean | null;
  ortError: string | null;
}

function runChild(args: object, timeoutMs: number): Promise<{ answer?: ChildAnswer; failure?: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ failure: `the WebGPU probe could not start: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(MARK));
      if (line) return resolve({ answer: JSON.parse(line.slice(MARK.length)) as ChildAnswer });
      const lastErr = stderr.trim().split('\n').filter((l) => !/^Warning: /.test(l)).pop();
      if (signal === 'SIGKILL') return resolve({ failure: `the WebGPU probe did not answer within ${Math.round(timeoutMs / 1000)} s (a hung GPU driver?)` });
      resolve({ failure: `the WebGPU probe crashed (${signal ?? `exit code ${code}`})${lastErr ? `: ${lastErr}` : ''}` });
    });
  });
}

/** Builds the report (and its reason) from what the child saw and what the system holds. */
export function webgpuReport(
  answer: ChildAnswer | undefined,
  failure: string | undefined,
  system: { vulkanLoader: boolean | null; vulkanDrivers: string[] } = { vulkanLoader: findVulkanLoader(), vulkanDrivers: findVulkanDrivers() },
): WebgpuReport {
  const { vulkanLoader, vulkanDrivers } = system;
  const adapters: WebgpuAdapter[] = (answer?.adapters ?? []).map(({ fallback, ...a }) => ({ ...a, software: isSoftwareAdapter({ ...a, fallback }) }));
  const hardware = adapters.filter((a) => !a.software);
  const ortRuns = answer?.ortRuns ?? null;
  let reason: string | null = null;
  if (failure) reason = failure;
  else if (answer?.listing.startsWith('listing failed') || answer?.listing.includes('not installed')) reason = `cannot list WebGPU adapters: ${answer.listing}`;
  else if (vulkanLoader === false) reason = 'no Vulkan loader (libvulkan.so.1 not found: install libvulkan1)';
  else if (adapters.length === 0 && vulkanDrivers.length === 0) reason = 'no Vulkan driver (no ICD file in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d; in a container, give the NVIDIA runtime the graphics capability)';
  else if (adapters.length === 0) reason = `no WebGPU adapter: the Vulkan drivers here (${vulkanDrivers.join(', ')}) offer none (no device for them, or a driver too old for Dawn)`;
  else if (hardware.length === 0) reason = `only a software adapter (${adapters.map(describeAdapter).join('; ')})`;
  if (ortRuns === false && reason === null) reason = `ONNX Runtime's webgpu provider failed on ${describeAdapter(hardware[0] ?? adapters[0]!)}: ${answer?.ortError ?? 'unknown error'}`;
  return { vulkanLoader, vulkanDrivers, adapters, listing: answer?.listing ?? 'not listed', ortRuns, reason };
}

export interface WebgpuProbeOptions {
  /** 'if-hardware': run ONNX Runtime's provider only on a hardware adapter (auto, doctor); 'always': on a software one too (--provider webgpu). */
  ort: 'if-hardware' | 'always';
  timeoutMs?: number;
}

/** One probe in a child process, every time it is called. */
export async function runWebgpuProbe(options: WebgpuProbeOptions): Promise<WebgpuReport> {
  const args = { webgpu: resolveOptional('webgpu'), ortModule: resolveOptional('onnxruntime-node'), ort: options.ort, model: await reluModel() };
  const { answer, failure } = await runChild(args, options.timeoutMs ?? PROBE_TIMEOUT_MS);
  return webgpuReport(answer, failure);
}

const memo = new Map<string, Promise<WebgpuReport>>();

/** The probe, at most once per process and mode (kept in memory only). */
export function probeWebgpu(options: WebgpuProbeOptions): Promise<WebgpuReport> {
  let pending = memo.get(options.ort);
  if (!pending) {
    pending = runWebgpuProbe(options);
    memo.set(options.ort, pending);
  }
  return pending;
}
