// nvidia-smi monitoring against a FAKE nvidia-smi: a shell script in a temp dir put
// first on PATH (passed as `env`), printing canned CSV lines; line k of a file is
// printed on the k-th call (the last line repeats), so values can change over polls.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  GpuPoller,
  parseComputeAppsCsv,
  parseGpuCsv,
  parseNvidiaNumber,
  queryComputeApps,
  queryGpus,
} from '../src/monitor/nvidia-smi.js';

const MIB = 1048576;
const root = mkdtempSync(path.join(os.tmpdir(), 'backbones-fake-smi-'));
after(() => rmSync(root, { recursive: true, force: true }));

const FAKE = `#!/bin/sh
d=$(dirname "$0")
pick() {
  n=$(cat "$d/$2" 2>/dev/null || echo 0)
  n=$((n + 1))
  echo "$n" > "$d/$2"
  total=$(wc -l < "$d/$1")
  [ "$n" -gt "$total" ] && n=$total
  sed -n "\${n}p" "$d/$1"
}
case "$1" in
  --query-gpu=*) pick gpu.csv gpu.count ;;
  --query-compute-apps=*) pick apps.csv apps.count ;;
  *) echo "fake nvidia-smi: unexpected args $*" >&2; exit 2 ;;
esac
`;

let n = 0;
/** A fresh dir holding an executable `nvidia-smi` (script body given), returns env with it first on PATH. */
function fakeSmi(script: string, files: Record<string, string> = {}): NodeJS.ProcessEnv {
  const dir = path.join(root, `smi-${n++}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'nvidia-smi'), script);
  chmodSync(path.join(dir, 'nvidia-smi'), 0o755);
  for (const [name, body] of Object.entries(files)) writeFileSync(path.join(dir, name), body);
  return { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH ?? ''}` };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('parsing', () => {
  test('N/A-like cells are null, never 0', () => {
    for (const s of ['[N/A]', '[Not Supported]', 'N/A', '', '  ', '[Unknown Error]', undefined]) assert.equal(parseNvidiaNumber(s), null, String(s));
    assert.equal(parseNvidiaNumber(' 81559 '), 81559);
    assert.equal(parseNvidiaNumber('0'), 0);
  });

  test('GPU rows: MiB → bytes, multiple GPUs, commas in names, [N/A]', () => {
    const gpus = parseGpuCsv(
      '0, NVIDIA H100 80GB HBM3, 535.104.05, 81559, 1234, 17\n' +
        '1, Tesla T4, 535.104.05, 15360, [N/A], [Not Supported]\r\n' +
        '2, Weird, Name, Inc, 550.1, 100, 1, 2\n\n',
    );
    assert.deepEqual(gpus[0], {
      index: 0,
      name: 'NVIDIA H100 80GB HBM3',
      driverVersion: '535.104.05',
      memoryTotalByte: 81559 * MIB,
      memoryUsedByte: 1234 * MIB,
      utilizationPercent: 17,
    });
    assert.equal(gpus[1]!.memoryUsedByte, null);
    assert.equal(gpus[1]!.utilizationPercent, null);
    assert.equal(gpus[2]!.name, 'Weird, Name, Inc');
    assert.equal(gpus[2]!.memoryTotalByte, 100 * MIB);
    assert.equal(gpus.length, 3);
  });

  test('compute apps: skips junk lines, [N/A] memory is null', () => {
    assert.deepEqual(parseComputeAppsCsv('4242, 1234\n77, [N/A]\nNo running processes found\n\n'), [
      { pid: 4242, usedMemoryByte: 1234 * MIB },
      { pid: 77, usedMemoryByte: null },
    ]);
    assert.deepEqual(parseComputeAppsCsv(''), []);
  });
});

describe('queries with a fake nvidia-smi on PATH', () => {
  test('reports exactly what it printed', async () => {
    const env = fakeSmi(FAKE, {
      'gpu.csv': '0, NVIDIA Fake 80GB, 535.104.05, 81559, 2000, 42\n',
      'apps.csv': '4242, 1234\n',
    });
    const gpus = await queryGpus({ env });
    assert.deepEqual(gpus, {
      available: true,
      gpus: [{ index: 0, name: 'NVIDIA Fake 80GB', driverVersion: '535.104.05', memoryTotalByte: 81559 * MIB, memoryUsedByte: 2000 * MIB, utilizationPercent: 42 }],
    });
    const apps = await queryComputeApps({ env });
    assert.deepEqual(apps, { available: true, apps: [{ pid: 4242, usedMemoryByte: 1234 * 1048576 }] });
  });

  test('PATH without nvidia-smi → not found; poller summary null', async () => {
    const empty = path.join(root, 'empty');
    mkdirSync(empty, { recursive: true });
    const env = { ...process.env, PATH: empty };
    assert.deepEqual(await queryGpus({ env }), { available: false, reason: 'nvidia-smi not found' });
    assert.deepEqual(await queryComputeApps({ env }), { available: false, reason: 'nvidia-smi not found' });
    const poller = new GpuPoller({ pid: 4242, intervalMs: 10, env }).start();
    while (poller.lastError === null) await sleep(10);
    assert.equal(await poller.stop(), null);
    assert.equal(poller.lastError, 'nvidia-smi not found');
  });

  test('a hung nvidia-smi is killed at the timeout, promptly (test timeout is the guard)', { timeout: 5000 }, async () => {
    // Not `exec sleep`: the sleeping grandchild keeps the pipes open unless the whole group is killed.
    const env = fakeSmi('#!/bin/sh\nsleep 30\necho never\n');
    assert.deepEqual(await queryGpus({ env, timeoutMs: 300 }), { available: false, reason: 'nvidia-smi timed out after 300 ms' });
  });

  test('a failing nvidia-smi reports its message', async () => {
    const env = fakeSmi("#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"\nexit 9\n");
    const r = await queryGpus({ env });
    assert.deepEqual(r, { available: false, reason: "nvidia-smi failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." });
  });

  test('the command is injectable', async () => {
    const env = fakeSmi(FAKE, { 'gpu.csv': '3, Other, 1.0, 100, 10, 5\n', 'apps.csv': '\n' });
    const dir = env.PATH!.split(path.delimiter)[0]!;
    const r = await queryGpus({ command: path.join(dir, 'nvidia-smi'), env: { ...process.env } });
    assert.ok(r.available);
    assert.equal(r.gpus[0]!.index, 3);
  });
});

describe('GpuPoller', () => {
  test('peak and mean over changing values, exact bytes', { timeout: 20000 }, async () => {
    const env = fakeSmi(FAKE, {
      'gpu.csv': ['0, Fake, 1.0, 81559, 3000, 10', '0, Fake, 1.0, 81559, 5000, 90', '0, Fake, 1.0, 81559, 4000, 50'].join('\n') + '\n',
      'apps.csv': ['4242, 1000', '4242, 3000', '4242, 2000'].join('\n') + '\n',
    });
    const poller = new GpuPoller({ pid: 4242, intervalMs: 5, env }).start();
    while (poller.samples.length < 5) await sleep(10);
    const s = await poller.stop();
    assert.ok(s);
    const k = s.samples;
    assert.equal(k, poller.samples.length);
    assert.ok(k >= 5);
    assert.equal(s.processMemoryPeakByte, 3000 * MIB);
    assert.equal(s.processMemoryMeanByte, ((1000 + 3000 + 2000 * (k - 2)) / k) * MIB);
    assert.equal(s.deviceMemoryUsedPeakByte, 5000 * MIB);
    assert.equal(s.deviceMemoryUsedMeanByte, ((3000 + 5000 + 4000 * (k - 2)) / k) * MIB);
    assert.equal(s.deviceMemoryTotalByte, 81559 * MIB);
    assert.equal(s.utilizationPeakPercent, 90);
    assert.equal(s.utilizationMeanPercent, (10 + 90 + 50 * (k - 2)) / k);
    assert.deepEqual(s.gpuIndices, [0]);
    // stopped: no more polls
    await sleep(50);
    assert.equal(poller.samples.length, k);
  });

  test('two entries for the pid in one poll are summed; other pids ignored', async () => {
    const env = fakeSmi('#!/bin/sh\ncase "$1" in --query-gpu=*) echo "0, A, 1, 100, 10, 1"; echo "1, B, 1, 100, 20, 3";; *) echo "4242, 7"; echo "99, 50"; echo "4242, 5";; esac\n');
    const poller = new GpuPoller({ pid: 4242, env });
    await poller.pollOnce();
    const s = poller.summary()!;
    assert.equal(s.processMemoryPeakByte, 12 * MIB);
    assert.equal(s.deviceMemoryUsedPeakByte, 30 * MIB);
    assert.equal(s.deviceMemoryTotalByte, 200 * MIB);
    assert.equal(s.utilizationPeakPercent, 3);
    assert.deepEqual(s.gpuIndices, [0, 1]);
  });

  test('pid never listed (e.g. hidden by a container) → process memory null, device figures kept', async () => {
    const env = fakeSmi(FAKE, { 'gpu.csv': '0, Fake, 1.0, 100, 60, 5\n', 'apps.csv': '99, 50\n' });
    const poller = new GpuPoller({ pid: 4242, env });
    await poller.pollOnce();
    await poller.pollOnce();
    const s = poller.summary()!;
    assert.equal(s.processMemoryPeakByte, null);
    assert.equal(s.processMemoryMeanByte, null);
    assert.equal(s.deviceMemoryUsedPeakByte, 60 * MIB);
    assert.equal(s.samples, 2);
  });
});
