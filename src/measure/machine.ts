// The report's `machine` section, adapted from monitor/'s machine and GPU queries.
import type { GpuQueryResult } from '../monitor/nvidia-smi.js';
import type { MachineInfo } from '../monitor/system.js';
import type { MachineSection } from './result.js';

/** The report's `machine` section from machineInfo() and queryGpus(). */
export function machineSection(info: MachineInfo, gpus: GpuQueryResult): MachineSection {
  return {
    cpuModel: info.cpu.model,
    cores: { physical: info.cpu.physicalCores, logical: info.cpu.logicalCores, available: info.cpu.availableParallelism },
    ramTotalByte: info.memory.totalByte,
    os: { ...info.os },
    gpus: gpus.available
      ? gpus.gpus.map((g) => ({ index: g.index, name: g.name, driver: g.driverVersion, memoryTotalByte: g.memoryTotalByte }))
      : [],
    gpusUnavailableReason: gpus.available ? null : gpus.reason,
    source: info.source,
  };
}
