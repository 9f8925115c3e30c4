// Gathers everything `backbones doctor` reports. Probes run concurrently and each
// has a time limit, so the command stays quick and works offline.
import os from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { VERSION } from '../cli.js';
import { err, out } from '../log.js';
import { initBackend, probeBackends, switchTfjsToWasm, type BackendProbe } from '../runtime/backend.js';
import { queryGpus } from '../monitor/nvidia-smi.js';
import { describeOs, machineInfo } from '../monitor/system.js';
import { resolveCacheDir } from '../weights/cache.js';
import { errorMessage } from '../errors.js';

export interface DoctorReport {
  backbones: string;
  node: string;
  npm: string | null;
  os: { platform: string; release: string; arch: string; distro: string | null };
  cpu: { model: string; physicalCores: number | null; logicalCores: number };
  memory: { totalByte: number; freeByte: number };
  tfjs: string;
  backends: BackendProbe[];
  auto: { backend: string; label: string; reason: string; threads: number; onnxExecutionProviders: string[] | null };
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
    return (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount();
  } catch {
    return null;
  }
}

export async function collectDoctor(options: { cacheDir?: string; backend?: string } = {}): Promise<DoctorReport> {
  const [npm, machine, gpus, backends] = await Promise.all([npmVersion(), machineInfo(), queryGpus({ timeoutMs: 3000 }), probeBackends()]);
  const auto = await initBackend('auto');
  return {
    backbones: VERSION,
    node: process.version,
    npm,
    os: { platform: os.platform(), release: os.release(), arch: os.arch(), distro: describeOs(machine.os) },
    cpu: { model: machine.cpu.model, physicalCores: machine.cpu.physicalCores, logicalCores: machine.cpu.logicalCores },
    memory: { totalByte: machine.memory.totalByte, freeByte: machine.memory.freeByte },
    tfjs: auto.tfjsVersion,
    backends,
    auto: { backend: auto.backend, label: auto.label, reason: auto.reason, threads: auto.threads, onnxExecutionProviders: auto.onnx?.executionProviders ?? null },
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
    `  ${''.padEnd(15)}${out.dim(r.auto.reason)}`,
    `  ${'wasm threads'.padEnd(15)}${r.wasmThreads ?? 'n/a'}`,
    out.bold('gpus'),
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

export async function runDoctor(options: { json?: boolean; cacheDir?: string }): Promise<number> {
  let report: DoctorReport;
  try {
    report = await collectDoctor({ cacheDir: options.cacheDir });
  } catch (e) {
    process.stderr.write(err.red('Error: ') + `doctor could not finish: ${errorMessage(e)}\n`);
    return 1;
  }
  process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctor(report));
  return 0;
}
