// Fake WebGPU probe results for engine-selection tests (what a machine with a hardware
// GPU, with only lavapipe, or with nothing would report), and the lavapipe requirement
// of the real WebGPU tests.
import { existsSync } from 'node:fs';
import type { WebgpuAdapter, WebgpuProber, WebgpuReport } from '../../src/engines/types.js';
import { findVulkanLoader } from '../../src/engines/webgpu-probe.js';

export const LLVMPIPE: WebgpuAdapter = {
  vendor: 'mesa',
  architecture: 'software',
  device: 'llvmpipe-llvm-15-0-6-256-bits-',
  description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
  software: true,
  features: ['shader-f16', 'subgroups'],
};

export const HOPPER: WebgpuAdapter = {
  vendor: 'nvidia',
  architecture: 'hopper',
  device: 'NVIDIA H200',
  description: 'NVIDIA: 580.95.05',
  software: false,
  features: ['shader-f16', 'subgroups', 'timestamp-query'],
};

const base = { vulkanLoader: true, vulkanDrivers: ['lvp_icd.json'], listing: 'Dawn (webgpu package)' };

export const SOFTWARE_ONLY: WebgpuReport = { ...base, adapters: [LLVMPIPE], ortRuns: null, reason: `only a software adapter (llvmpipe: Mesa 25.0.7 (LLVM 15.0.6) (mesa, software))` };
export const HARDWARE: WebgpuReport = { ...base, vulkanDrivers: ['nvidia_icd.json', 'lvp_icd.json'], adapters: [HOPPER, LLVMPIPE], ortRuns: true, reason: null };
export const NO_LOADER: WebgpuReport = { ...base, vulkanLoader: false, vulkanDrivers: [], adapters: [], reason: 'no Vulkan loader (libvulkan.so.1 not found: install libvulkan1)', ortRuns: null };

/** A prober that answers `report` and counts its calls. */
export function fakeProber(report: WebgpuReport): WebgpuProber & { calls: number } {
  const f: WebgpuProber & { calls: number } = Object.assign(
    async () => {
      f.calls += 1;
      return report;
    },
    { calls: 0 },
  );
  return f;
}

/**
 * For the real WebGPU tests: false when lavapipe (Mesa's software Vulkan) and the loader
 * are there; a skip reason locally; throws under CI=true, where they must run.
 */
export function skipWithoutLavapipe(): false | string {
  const ok = findVulkanLoader() !== false && existsSync('/usr/share/vulkan/icd.d/lvp_icd.json');
  if (ok) return false;
  const why = 'Mesa lavapipe (mesa-vulkan-drivers >= 25) and libvulkan1 are needed for the WebGPU tests (test/system/install.sh installs them)';
  if (process.env.CI === 'true') throw new Error(`${why}; CI requires them.`);
  return why;
}
