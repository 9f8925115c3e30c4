// The prefetch budget holds: a run over 16000x16000 PNGs (768 MB of pixels each once
// decoded) with two decode threads stays under 1.5 GB peak RSS at the default
// --prefetch-mb, because a huge image is decoded alone and its pixels are collected
// before the next one starts. Without the budget the two threads would hold two at
// once (> 1.8 GB). Peak RSS is the child's own high-water mark (getrusage maxRSS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { REPO_ROOT, IMAGES, MODELS, skipWithoutData } from './helpers/data.js';
import { parseJsonl } from './helpers/cache.js';

const SIDE = 16000;
const BOUND_BYTE = 1.5 * 1024 ** 3;

/** A 16000x16000 RGB PNG (a horizontal gradient, so a small file), written without holding its pixels. */
async function hugePng(file: string, shade: number): Promise<void> {
  const row = Buffer.alloc(SIDE * 3);
  for (let x = 0; x < SIDE; x++) {
    row[x * 3] = (x >> 6) & 255;
    row[x * 3 + 1] = shade;
    row[x * 3 + 2] = 255 - ((x >> 6) & 255);
  }
  await sharp(row, { raw: { width: SIDE, height: 1, channels: 3 } }).extend({ bottom: SIDE - 1, extendWith: 'copy' }).png().toFile(file);
}

/** Runs the built CLI in a child that prints its own maxRSS (KiB) on stderr at the end. */
function runWithMaxRss(dir: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; maxRssByte: number }> {
  const cli = pathToFileURL(path.join(REPO_ROOT, 'dist', 'cli.js')).href;
  const script = path.join(dir, 'run.mjs');
  writeFileSync(
    script,
    `const { runMain } = await import(${JSON.stringify(cli)});\n` +
      `const code = await runMain(process.argv);\n` +
      `process.stderr.write('MAXRSS_KB ' + process.resourceUsage().maxRSS + '\\n');\n` +
      `process.exitCode = code;\n`,
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const kb = Number(/MAXRSS_KB (\d+)/.exec(stderr)?.[1] ?? NaN);
      resolve({ code, stdout, stderr, maxRssByte: kb * 1024 });
    });
  });
}

test('two 16000x16000 PNGs through two decode threads stay under 1.5 GB peak RSS at the default budget', { skip: skipWithoutData(), timeout: 180_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-huge-'));
  try {
    const images = path.join(dir, 'images');
    mkdirSync(images);
    await hugePng(path.join(images, 'a_huge.png'), 40);
    copyFileSync(IMAGES('apple_red__opencv.jpg'), path.join(images, 'b_apple.jpg'));
    await hugePng(path.join(images, 'c_huge.png'), 200);
    const r = await runWithMaxRss(dir, ['extract', images, '-m', MODELS('mobilenet_v1_0.25_224'), '--layer', 'global_average_pooling2d_1', '--preprocess', 'tf', '--decode-threads', '2', '-b', '8']);
    assert.equal(r.code, 0, r.stderr);
    const records = parseJsonl(r.stdout);
    assert.deepEqual(records.map((x) => path.basename(x.path)), ['a_huge.png', 'b_apple.jpg', 'c_huge.png']);
    assert.ok(records.every((x) => x.vector?.length === 256));
    assert.ok(Number.isFinite(r.maxRssByte) && r.maxRssByte > 768 * 1024 ** 2, `a huge image was decoded in full: ${r.maxRssByte}`);
    assert.ok(r.maxRssByte < BOUND_BYTE, `peak RSS ${(r.maxRssByte / 1024 ** 3).toFixed(2)} GiB, bound 1.5 GiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
