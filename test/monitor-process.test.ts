import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { cpuUsageDuring, maxRssByte, ProcessSampler, startCpuUsage } from '../src/monitor/process.js';

const MB = 1e6;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ProcessSampler', () => {
  test('sees a 200 MB allocation, and stays within maxRSS', { timeout: 20000 }, async () => {
    const sampler = new ProcessSampler({ intervalMs: 10 }).start();
    const before = sampler.sampleCount;
    const big = Buffer.alloc(200 * MB);
    big.fill(1); // touch every page so it is resident
    // wait for two timer samples after the allocation (a condition, not a timing)
    while (sampler.sampleCount < before + 2) await sleep(5);
    const s = sampler.stop();
    const max = maxRssByte();
    assert.ok(s.rssPeakByte - s.rssStartByte >= 0.95 * 200 * MB, `peak ${s.rssPeakByte} start ${s.rssStartByte}`);
    // maxRSS (getrusage, KiB) is the kernel's high-water mark; allow 4 MiB for
    // per-CPU RSS counter skew between /proc/self/stat and getrusage.
    assert.ok(s.rssPeakByte <= max + 4 * 1024 * 1024, `peak ${s.rssPeakByte} > maxRSS ${max}`);
    assert.ok(s.rssMeanByte <= s.rssPeakByte);
    assert.ok(s.samples >= 4);
    assert.equal(s.tfBytesPeak, null);
    assert.equal(big[big.length - 1], 1); // keep it alive until here
  });

  test('tracks tf.memory() through the callback: peak and end', () => {
    const values = [
      { numBytes: 100, numTensors: 2 },
      { numBytes: 900, numTensors: 9 },
      { numBytes: 300, numTensors: 3 },
    ];
    let i = 0;
    const sampler = new ProcessSampler({ intervalMs: 60_000, tfMemory: () => values[Math.min(i++, values.length - 1)]! }).start();
    sampler.sample();
    const s = sampler.stop();
    assert.equal(s.samples, 3);
    assert.equal(s.tfBytesPeak, 900);
    assert.equal(s.tfTensorsPeak, 9);
    assert.equal(s.tfBytesEnd, 300);
    assert.equal(s.tfTensorsEnd, 3);
  });

  test('maxRssByte is resourceUsage().maxRSS in bytes', () => {
    const kib = process.resourceUsage().maxRSS;
    const b = maxRssByte();
    assert.ok(b >= kib * 1024);
    assert.equal(b % 1024, 0);
    assert.ok(b >= process.memoryUsage.rss() * 0.5);
  });
});

describe('CPU usage', () => {
  test('a busy loop: the meter agrees with the kernel\'s own count (/proc/self/stat) and its share is CPU over wall time', async () => {
    // A share of wall time depends on what else the machine runs (a loaded 2-core machine
    // gives this loop 30 %), so the check is against an independent reading of the same
    // CPU time, which does not: utime + stime of /proc/self/stat, in clock ticks (10 ms).
    const ticks = () => {
      const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
      return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
    };
    const spin = () => {
      let x = 0;
      const start = process.cpuUsage();
      for (;;) {
        for (let i = 0; i < 1e5; i++) x += Math.sqrt(x + i);
        const d = process.cpuUsage(start);
        if (d.user + d.system >= 300_000) return x;
      }
    };
    const t0 = ticks();
    const { result, cpu } = await cpuUsageDuring(spin);
    const kernelMs = (ticks() - t0) * 10;
    assert.ok(result > 0);
    assert.ok(cpu.userMs + cpu.systemMs >= 300, `meter ${cpu.userMs + cpu.systemMs} ms`);
    // Other threads of this process (GC, libuv) may add a little; ticks round to 10 ms.
    assert.ok(Math.abs(cpu.userMs + cpu.systemMs - kernelMs) <= 30 + 0.1 * kernelMs, `meter ${cpu.userMs + cpu.systemMs} ms, kernel ${kernelMs} ms`);
    const share = ((cpu.userMs + cpu.systemMs) / cpu.wallMs) * 100;
    assert.ok(Math.abs(cpu.processPercentOfOneCore - share) < 1, `${cpu.processPercentOfOneCore} vs ${share}`);
    assert.ok(cpu.processPercentOfOneCore > 0 && cpu.processPercentOfOneCore <= 100 * cpu.cores + 10, `got ${cpu.processPercentOfOneCore}`);
    assert.ok(cpu.cores >= 1);
    assert.ok(cpu.systemPercent === null || (cpu.systemPercent >= 0 && cpu.systemPercent <= 100));
    assert.ok(cpu.wallMs >= 300 / cpu.cores);
  });

  test('an idle wait uses little CPU of this process', async () => {
    const meter = startCpuUsage();
    await sleep(200);
    const cpu = meter.stop();
    assert.ok(cpu.processPercentOfOneCore < 50, `got ${cpu.processPercentOfOneCore}`);
  });
});
