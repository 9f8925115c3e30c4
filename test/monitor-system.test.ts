import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeOs, machineInfo, machineInfoFromOs, type MachineInfo } from '../src/monitor/system.js';

function checkShape(m: MachineInfo) {
  assert.ok(m.cpu.model.length > 0);
  assert.ok(m.cpu.logicalCores >= 1);
  assert.ok(m.cpu.availableParallelism >= 1);
  assert.ok(m.cpu.physicalCores === null || m.cpu.physicalCores >= 1);
  assert.ok(m.memory.totalByte > 0);
  assert.ok(m.memory.freeByte >= 0 && m.memory.freeByte <= m.memory.totalByte);
  assert.ok(m.os.platform.length > 0 && m.os.arch.length > 0);
}

test('machineInfo via systeminformation (or its fallback)', { timeout: 20000 }, async () => {
  const m = await machineInfo({ timeoutMs: 10000 });
  checkShape(m);
  assert.ok(['systeminformation', 'os'].includes(m.source));
  assert.ok(describeOs(m.os).includes(m.os.arch));
});

test('node:os fallback', () => {
  const m = machineInfoFromOs();
  checkShape(m);
  assert.equal(m.source, 'os');
  assert.equal(m.cpu.physicalCores, null);
});

test('a zero timeout still answers', async () => {
  checkShape(await machineInfo({ timeoutMs: 0 }));
});
