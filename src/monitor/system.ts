// Machine facts for `doctor` and the bench report header. Uses systeminformation
// (physical cores, distro name, CPU brand) but never waits on it for long: after
// `timeoutMs` (or if it throws) the values come from node:os instead, with
// `source: 'os'` so the report says which one it was.
import os from 'node:os';

export interface MachineInfo {
  /** Where the values came from: systeminformation, or the node:os fallback. */
  source: 'systeminformation' | 'os';
  cpu: {
    /** e.g. "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz" or "AMD EPYC 7B13". */
    model: string;
    /** e.g. "Intel", "AMD", "Apple"; null from the os fallback. */
    manufacturer: string | null;
    /** Nominal clock in GHz; null when unknown. */
    speedGHz: number | null;
    /** Physical cores; null from the os fallback (node:os cannot tell). */
    physicalCores: number | null;
    /** Logical cores (hardware threads) of the machine. */
    logicalCores: number;
    /** os.availableParallelism(): logical cores this process may use (cgroup/affinity aware). */
    availableParallelism: number;
  };
  memory: {
    totalByte: number;
    /** Free memory when queried (systeminformation: "available", which counts reclaimable cache). */
    freeByte: number;
  };
  os: {
    /** `process.platform`, e.g. `"linux"`. */
    platform: string;
    /** e.g. `"Ubuntu"` (`os.type()` in the fallback). */
    distro: string;
    /** e.g. `"22.04.4 LTS"`. */
    release: string;
    /** Kernel version. */
    kernel: string;
    /** e.g. `"x64"`, `"arm64"`. */
    arch: string;
  };
}

export const DEFAULT_MACHINE_INFO_TIMEOUT_MS = 3000;

/** Values from node:os alone (instant). */
export function machineInfoFromOs(): MachineInfo {
  const cpus = os.cpus();
  const speedMHz = cpus[0]?.speed;
  return {
    source: 'os',
    cpu: {
      model: cpus[0]?.model?.trim() || 'unknown CPU',
      manufacturer: null,
      speedGHz: speedMHz ? speedMHz / 1000 : null,
      physicalCores: null,
      logicalCores: cpus.length || os.availableParallelism(),
      availableParallelism: os.availableParallelism(),
    },
    memory: { totalByte: os.totalmem(), freeByte: os.freemem() },
    os: { platform: process.platform, distro: os.type(), release: os.release(), kernel: os.release(), arch: os.arch() },
  };
}

async function machineInfoFromSi(): Promise<MachineInfo> {
  const si = await import('systeminformation');
  const [cpu, mem, osi] = await Promise.all([si.cpu(), si.mem(), si.osInfo()]);
  const fallback = machineInfoFromOs();
  const brand = [cpu.manufacturer, cpu.brand].filter((s) => s && s.trim()).join(' ').trim();
  return {
    source: 'systeminformation',
    cpu: {
      model: brand || fallback.cpu.model,
      manufacturer: cpu.manufacturer?.trim() || null,
      speedGHz: cpu.speed > 0 ? cpu.speed : fallback.cpu.speedGHz,
      physicalCores: cpu.physicalCores > 0 ? cpu.physicalCores : null,
      logicalCores: cpu.cores > 0 ? cpu.cores : fallback.cpu.logicalCores,
      availableParallelism: os.availableParallelism(),
    },
    memory: {
      totalByte: mem.total > 0 ? mem.total : fallback.memory.totalByte,
      freeByte: mem.available > 0 ? mem.available : fallback.memory.freeByte,
    },
    os: {
      platform: osi.platform || process.platform,
      distro: osi.distro || fallback.os.distro,
      release: osi.release || fallback.os.release,
      kernel: osi.kernel || fallback.os.kernel,
      arch: osi.arch || fallback.os.arch,
    },
  };
}

/**
 * CPU, memory and OS of this machine. Tries systeminformation for up to
 * `timeoutMs` (default 3000), then falls back to node:os.
 */
export async function machineInfo(options: { timeoutMs?: number } = {}): Promise<MachineInfo> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_MACHINE_INFO_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
    timer.unref();
  });
  try {
    const info = await Promise.race([machineInfoFromSi().catch(() => null), timeout]);
    return info ?? machineInfoFromOs();
  } finally {
    clearTimeout(timer);
  }
}

/** One line for headers: "Ubuntu 22.04.4 LTS (linux 6.8.0, x64)". */
export function describeOs(o: MachineInfo['os']): string {
  return `${o.distro} ${o.release} (${o.platform} ${o.kernel}, ${o.arch})`.replace(/\s+/g, ' ').trim();
}
