// Gathers everything `backbones doctor` reports. Probes run concurrently and each
// has a time limit, so the command stays quick and works offline.
import os from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { VERSION } from '../version.js';
import { out } from '../log.js';
import { probeEngines, startEngine } from '../engines/select.js';
import { switchTfjsToWasm, wasmThreads } from '../engines/tfjs-wasm.js';
import { describeAdapter } from '../engines/webgpu-probe.js';
import type { BackendChoice, BackendProbe, WebgpuReport } from '../engines/types.js';
import { queryGpus } from '../monitor/nvidia-smi.js';
import { describeOs, machineInfo } from '../monitor/system.js';
import { resolveCacheDir } from '../weights/cache.js';
import { BackbonesError, errorMessage } from '../errors.js';

export interface DoctorReport {
  backbones: string;
  node: string;
  npm: string | null;
  os: { platform: string; release: string; arch: string; distro: string | null };
  cpu: { model: string; physicalCores: number | null; logicalCores: number };
  memory: { totalByte: number; freeByte: number };
  tfjs: string;
  backends: BackendProbe[];
  auto: EngineSummary;
  /** What --device gpu would use, or why it cannot. */
  gpu: EngineSummary | { available: false; reason: string };
  /** WebGPU adapters (Dawn, in a child process) and whether ONNX Runtime's webgpu provider runs. */
  webgpu: WebgpuReport;
  wasmThreads: number | null;
  gpus: { available: boolean; reason: string | null; devices: Array<{ name: string; driver: string | null; memoryTotalByte: number | null; memoryUsedByte: number | null }> };
  cacheDir: string;
}

async function npmVersion(): Promise<string | null> {
  try {
    const { stdout } = await promisify(execFile)('npm', ['--version'], { timeout: 3000 });
    return stdout.trim();
  } catch {
    return null;
  }
}

/** Threads of the wasm backend (1 in Node: tfjs ships no threaded build for it); null without wasm. */
async function wasmThreadCount(): Promise<number | null> {
  try {
    // The count is only known once the wasm module runs; doctor may start it just to ask.
    await switchTfjsToWasm();
    return await wasmThreads();
  } catch {
    return null;
  }
}

export interface EngineSummary {
  available: true;
  backend: string;
  label: string;
  reason: string;
  threads: number;
  device: 'cpu' | 'gpu';
  provider: string;
  adapter: string;
  onnxExecutionProviders: string[] | null;
}

function summary(c: BackendChoice): EngineSummary {
  return { available: true, backend: c.backend, label: c.label, reason: c.reason, threads: c.threads, device: c.device, provider: c.provider, adapter: c.adapter, onnxExecutionProviders: c.onnx?.executionProviders ?? null };
}

export async function collectDoctor(options: { cacheDir?: string; backend?: string } = {}): Promise<DoctorReport> {
  const [npm, machine, gpus, { backends, webgpu }] = await Promise.all([npmVersion(), machineInfo(), queryGpus({ timeoutMs: 3000 }), probeEngines()]);
  // Plain auto whatever the environment asks (BACKBONES_DEVICE, BACKBONES_ONNX_PROVIDERS): doctor reports the machine.
  const auto = (await startEngine({ backend: 'auto', device: 'auto', providers: [] })).choice;
  const gpu = await startEngine({ backend: 'auto', device: 'gpu', providers: [] }).then(
    (e) => summary(e.choice),
    (e: unknown) => ({ available: false as const, reason: errorMessage(e) }),
  );
  return {
    backbones: VERSION,
    node: process.version,
    npm,
    os: { platform: os.platform(), release: os.release(), arch: os.arch(), distro: describeOs(machine.os) },
    cpu: { model: machine.cpu.model, physicalCores: machine.cpu.physicalCores, logicalCores: machine.cpu.logicalCores },
    memory: { totalByte: machine.memory.totalByte, freeByte: machine.memory.freeByte },
    tfjs: auto.tfjsVersion,
    backends,
    auto: summary(auto),
    gpu,
    webgpu,
    wasmThreads: await wasmThreadCount(),
    gpus: gpus.available
      ? {
          available: true,
          reason: null,
          devices: gpus.gpus.map((g) => ({ name: g.name, driver: g.driverVersion, memoryTotalByte: g.memoryTotalByte ?? null, memoryUsedByte: g.memoryUsedByte ?? null })),
        }
      : { available: false, reason: gpus.reason, devices: [] },
    cacheDir: resolveCacheDir(options.cacheDir),
  };
}

const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;

export function formatDoctor(r: DoctorReport): string {
  const status = (p: BackendProbe) =>
    p.status === 'available' ? out.green('available') : p.status === 'not-installed' ? out.yellow('not installed') : out.red('failed to load');
  const lines = [
    out.bold('backbones doctor'),
    `  backbones    ${r.backbones}`,
    `  node         ${r.node}`,
    `  npm          ${r.npm ?? 'n/a'}`,
    `  os           ${r.os.distro ?? `${r.os.platform} ${r.os.release} ${r.os.arch}`}`,
    `  cpu          ${r.cpu.model}, ${r.cpu.physicalCores ?? 'n/a'} physical / ${r.cpu.logicalCores} logical cores`,
    `  memory       ${gib(r.memory.totalByte)} total, ${gib(r.memory.freeByte)} free`,
    `  tfjs         ${r.tfjs}`,
    out.bold('backends'),
    ...r.backends.map((p) => `  ${p.candidate.padEnd(15)}${status(p)}  ${out.dim(p.status === 'available' ? `${p.package} ${p.version ?? ''}: ${p.reason}` : p.reason)}`),
    `  ${'auto picks'.padEnd(15)}${out.bold(r.auto.label)}`,
    `  ${''.padEnd(15)}${out.dim(`on ${r.auto.device === 'gpu' ? 'GPU' : 'CPU'} ${r.auto.adapter}`)}`,
    `  ${''.padEnd(15)}${out.dim(r.auto.reason)}`,
    `  ${'--device gpu'.padEnd(15)}${r.gpu.available ? `${out.bold(r.gpu.label)} ${out.dim(`on ${r.gpu.adapter}`)}` : out.yellow(r.gpu.reason.replace(/^--device gpu: /, ''))}`,
    `  ${'wasm threads'.padEnd(15)}${r.wasmThreads ?? 'n/a'}`,
    out.bold('webgpu'),
    `  ${'vulkan loader'.padEnd(15)}${r.webgpu.vulkanLoader === null ? 'n/a (not Linux)' : r.webgpu.vulkanLoader ? 'libvulkan.so.1 found' : out.yellow('libvulkan.so.1 not found')}`,
    `  ${'vulkan drivers'.padEnd(15)}${r.webgpu.vulkanDrivers.join(', ') || 'none'}`,
    ...(r.webgpu.adapters.length > 0
      ? r.webgpu.adapters.map((a) => `  ${'adapter'.padEnd(15)}${describeAdapter(a)}${out.dim(`; shader-f16 ${a.features.includes('shader-f16') ? 'yes' : 'no'}, subgroups ${a.features.includes('subgroups') ? 'yes' : 'no'}`)}`)
      : [`  ${'adapter'.padEnd(15)}none ${out.dim(`(${r.webgpu.listing})`)}`]),
    `  ${'onnx webgpu'.padEnd(15)}${r.webgpu.ortRuns === null ? 'not tried (no hardware adapter)' : r.webgpu.ortRuns ? out.green('runs') : out.red('fails')}`,
    ...(r.webgpu.reason ? [`  ${''.padEnd(15)}${out.dim(r.webgpu.reason)}`] : []),
    out.bold('gpus (nvidia-smi)'),
    ...(r.gpus.available
      ? r.gpus.devices.map(
          (g) => `  ${g.name}, driver ${g.driver ?? 'n/a'}, ${g.memoryTotalByte === null ? 'n/a' : gib(g.memoryTotalByte)} total, ${g.memoryUsedByte === null ? 'n/a' : gib(g.memoryUsedByte)} used`,
        )
      : [`  ${r.gpus.reason}`]),
    out.bold('cache'),
    `  ${r.cacheDir}`,
  ];
  return lines.join('\n') + '\n';
}

export async function runDoctor(options: { format?: string; cacheDir?: string }): Promise<number> {
  let report: DoctorReport;
  try {
    report = await collectDoctor({ cacheDir: options.cacheDir });
  } catch (e) {
    // The CLI prints it like any other error, exit 1.
    throw new BackbonesError('E_INTERNAL', `doctor could not finish: ${errorMessage(e)}`, { cause: e });
  }
  process.stdout.write(options.format === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatDoctor(report));
  return 0;
}
