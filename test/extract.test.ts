// extract through the built CLI: JSONL, .npy, CSV, pooling, L2 and --resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, appendFileSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { runCli, BIN } from './helpers/cli.js';
import { IMAGES, DATA_DIR, skipWithoutData } from './helpers/data.js';
import { cacheWithMobilenet025, parseJsonl } from './helpers/cache.js';
import { readNpy } from './helpers/npy.js';

const skip = skipWithoutData();
const PHOTOS = ['apple_red__opencv.jpg', 'cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png'].map((f) => IMAGES(f));
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'bb-extract-'));
let cache = '';
const env = () => ({ BACKBONES_CACHE: (cache ||= cacheWithMobilenet025()) });


test('default feature layer as JSONL: path, model, layer, shape, vector', { skip }, async () => {
  const r = await runCli(['extract', ...PHOTOS, '-m', 'mobilenet_0.25'], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const rows = parseJsonl(r.stdout);
  assert.equal(rows.length, 3);
  for (const [i, row] of rows.entries()) {
    assert.equal(row.path, PHOTOS[i]);
    assert.equal(row.model, 'mobilenet_0.25');
    assert.equal(row.layer, 'global_average_pooling2d_1');
    assert.deepEqual(row.shape, [256]);
    assert.equal(row.vector.length, 256);
    assert.ok(row.vector.every((v: number) => Number.isFinite(v) && v >= 0), 'after ReLU and averaging');
  }
  assert.notDeepEqual(rows[0]!.vector, rows[1]!.vector);
});

test('.npy header and data are exact and equal the JSONL rows; sidecar lists paths in row order', { skip }, async () => {
  const dir = tmp();
  const npy = path.join(dir, 'features.npy');
  const [a, b] = await Promise.all([
    runCli(['extract', ...PHOTOS, '-m', 'mobilenet_0.25', '-o', npy], { env: env() }),
    runCli(['extract', ...PHOTOS, '-m', 'mobilenet_0.25'], { env: env() }),
  ]);
  assert.equal(a.code, 0, a.stderr);
  const { header, shape, data } = readNpy(npy);
  assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 256\), \} *\n$/);
  assert.deepEqual(shape, [3, 256]);
  const rows = parseJsonl(b.stdout);
  for (let i = 0; i < 3; i++) {
    // JSON digits read back as float32 give exactly the stored bits.
    assert.deepEqual(Array.from(data.subarray(i * 256, (i + 1) * 256)), Array.from(Float32Array.from(rows[i]!.vector)));
  }
  assert.deepEqual(readFileSync(`${npy}.paths.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l)), PHOTOS);
  assert.equal(existsSync(`${npy}.errors.jsonl`), false);
});

test('a spatial layer pooled with --pool avg equals the global-average-pooling layer; --l2 gives unit norm', { skip }, async () => {
  const [pooled, gap, l2] = await Promise.all([
    runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--layer', 'conv_pw_13_relu', '--pool', 'avg'], { env: env() }),
    runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25'], { env: env() }),
    runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--l2'], { env: env() }),
  ]);
  const p = parseJsonl(pooled.stdout)[0]!;
  const g = parseJsonl(gap.stdout)[0]!;
  assert.deepEqual(p.shape, [256]);
  const maxDiff = Math.max(...p.vector.map((v: number, i: number) => Math.abs(v - g.vector[i])));
  assert.ok(maxDiff < 1e-5, `max diff ${maxDiff}`);
  const v = parseJsonl(l2.stdout)[0]!.vector as number[];
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
  const unpooled = await runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--layer', 'conv_pw_13_relu'], { env: env() });
  assert.equal(parseJsonl(unpooled.stdout)[0]!.vector.length, 7 * 7 * 256);
});

test('CSV: header path,error,v0…; one row per image', { skip }, async () => {
  const r = await runCli(['extract', ...PHOTOS.slice(0, 2), '-m', 'mobilenet_0.25', '--format', 'csv'], { env: env() });
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 3);
  assert.ok(lines[0]!.startsWith('path,error,v0,v1,'));
  assert.equal(lines[0]!.split(',').length, 258);
  assert.equal(lines[1]!.split(',').length, 258);
});

test('an unknown layer names the command that lists layers', { skip }, async () => {
  const r = await runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '--layer', 'fc7'], { env: env() });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /has no layer "fc7"; list them with `backbones models info mobilenet_0.25 --layers`/);
});

test('--resume after a killed run completes without duplicates', { skip }, async () => {
  const dir = tmp();
  const out = path.join(dir, 'features.jsonl');
  const images = path.join(DATA_DIR, 'images');
  // Start a run, kill it (SIGKILL) as soon as it has written some lines.
  await new Promise<void>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'extract', images, '-m', 'mobilenet_0.25', '-b', '2', '-o', out], { env: { ...process.env, ...env() } });
    // The run writes to features.jsonl.partial until it has finished.
    const timer = setInterval(() => {
      if (existsSync(`${out}.partial`) && readFileSync(`${out}.partial`, 'utf8').split('\n').length > 4) child.kill('SIGKILL');
    }, 20);
    child.on('close', () => {
      clearInterval(timer);
      resolve();
    });
  });
  assert.equal(existsSync(out), false, 'nothing under the final name before the run has finished');
  const partial = parseJsonl(readFileSync(`${out}.partial`, 'utf8'));
  assert.ok(partial.length >= 3 && partial.length < 27, `killed after ${partial.length} lines`);
  // A torn last line, as a kill during a write could leave.
  appendFileSync(`${out}.partial`, '{"path":"/half/writ');
  const r = await runCli(['extract', images, '-m', 'mobilenet_0.25', '-b', '2', '-o', out, '--resume'], { env: env() });
  assert.equal(r.code, 3, r.stderr); // the truncated JPEG fails
  assert.match(r.stderr, /Resuming: \d+ inputs? already in/);
  const all = parseJsonl(readFileSync(out, 'utf8'));
  const paths = all.map((x) => x.path);
  assert.equal(new Set(paths).size, paths.length, 'no duplicates');
  assert.equal(paths.length, 27);
  const expected = readdirSync(images).sort().map((f) => path.join(images, f));
  assert.deepEqual(paths, expected, 'every input once, in input order');
  assert.deepEqual(paths.slice(0, partial.length), partial.map((x) => x.path));
  // A second resume has nothing left to do.
  const again = await runCli(['extract', images, '-m', 'mobilenet_0.25', '-o', out, '--resume'], { env: env() });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(parseJsonl(readFileSync(out, 'utf8')).length, 27);
});

test('--resume needs -o; an empty file is not an npy to continue', { skip }, async () => {
  const r = await runCli(['extract', PHOTOS[0]!, '--resume']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--resume needs -o FILE/);
  const dir = tmp();
  writeFileSync(path.join(dir, 'x.npy'), '');
  const n = await runCli(['extract', PHOTOS[0]!, '-m', 'mobilenet_0.25', '-o', path.join(dir, 'x.npy'), '--resume'], { env: env() });
  assert.equal(n.code, 2);
  assert.match(n.stderr, /is not a 2-D float32 \.npy file written by backbones/);
  assert.equal(readFileSync(path.join(dir, 'x.npy'), 'utf8'), '');
});

test('--workers 2 gives byte-identical output, in input order', { skip }, async () => {
  const images = path.join(DATA_DIR, 'images');
  const args = ['extract', images, '-m', 'mobilenet_0.25', '-b', '3'];
  const [one, two] = await Promise.all([runCli(args, { env: env() }), runCli([...args, '--workers', '2'], { env: env() })]);
  assert.equal(one.code, 3, one.stderr);
  assert.equal(two.code, 3, two.stderr);
  assert.equal(parseJsonl(two.stdout).length, 27);
  assert.equal(two.stdout, one.stdout);
});
