// What classify/extract leave on disk when runs are killed, overlap, resume or are
// refused: nothing lost, nothing garbled (issue 10, items 2-8 and 13). Built CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, runCli } from './helpers/cli.js';
import { IMAGES, skipWithoutData } from './helpers/data.js';
import { cacheWithMobilenet025, parseJsonl } from './helpers/cache.js';
import { parseCsv, readNpy } from './helpers/npy.js';

const skip = skipWithoutData();
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'bb-out-'));
let cache = '';
const env = () => ({ BACKBONES_CACHE: (cache ||= cacheWithMobilenet025()) });
const APPLE = IMAGES('apple_red__opencv.jpg');
const CAT = IMAGES('cat_tabby_chelsea__skimage.png');
const TRUNCATED = IMAGES('truncated__skimage.jpg');
const MODEL = ['-m', 'mobilenet_0.25'];

/** A folder of `n` small photos (links to three real ones) under distinct names, and their paths in input order. */
function photoFolder(n: number): { dir: string; paths: string[] } {
  const dir = tmp();
  const sources = [APPLE, CAT, IMAGES('coffee_espresso_cup__skimage.png')];
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = path.join(dir, `img${String(i).padStart(3, '0')}${path.extname(sources[i % 3]!)}`);
    symlinkSync(sources[i % 3]!, p);
    paths.push(p);
  }
  return { dir, paths };
}

/** Starts the CLI, kills it with SIGKILL once `ready()` holds (polled), resolves when it is gone. */
function killWhen(args: string[], ready: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env() }, stdio: 'ignore' });
    const timer = setInterval(() => {
      if (ready()) child.kill('SIGKILL');
    }, 5);
    child.on('close', () => {
      clearInterval(timer);
      resolve();
    });
  });
}

const sizeOf = (f: string) => (existsSync(f) ? statSync(f).size : 0);

test('.npy: a killed rerun leaves the earlier good file untouched; --resume continues the partial file to the same rows', { skip }, async () => {
  const { dir, paths } = photoFolder(80);
  const out = path.join(tmp(), 'f.npy');
  const args = ['extract', dir, ...MODEL, '-b', '1', '-o', out];
  const first = await runCli(args, { env: env() });
  assert.equal(first.code, 0, first.stderr);
  const good = readFileSync(out);
  const pathsOf = () => (existsSync(`${out}.paths.jsonl`) ? readFileSync(`${out}.paths.jsonl`) : Buffer.alloc(0));
  const goodPaths = pathsOf();
  assert.deepEqual(readNpy(out).shape, [80, 256]);

  // Kill a rerun once it has written some rows (wherever it writes them).
  await killWhen(args, () => sizeOf(`${out}.partial`) > 128 + 5 * 1024 || !readFileSync(out).equals(good));
  assert.ok(readFileSync(out).equals(good), 'the finished .npy is byte for byte what the first run wrote');
  assert.ok(pathsOf().equals(goodPaths));
  // The partial file loads too: its header counts the whole rows written so far.
  const partial = readNpy(`${out}.partial`);
  assert.ok(partial.shape[0]! >= 5 && partial.shape[0]! < 80, `killed after ${partial.shape[0]} rows`);

  const resumed = await runCli([...args, '--resume'], { env: env() });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /Resuming: \d+ inputs already in .*f\.npy\.partial/);
  assert.equal(existsSync(`${out}.partial`), false);
  const final = readNpy(out);
  assert.deepEqual(final.shape, [80, 256]);
  assert.deepEqual(readFileSync(`${out}.paths.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l)), paths);
  const reference = new Float32Array(good.buffer.slice(good.byteOffset + 128, good.byteOffset + good.length));
  const maxDiff = Math.max(...final.data.map((v, i) => Math.abs(v - reference[i]!)));
  assert.ok(maxDiff < 1e-5, `resumed rows equal a clean run's (max diff ${maxDiff})`);

  // --resume on a finished file: nothing to do, nothing changed.
  const again = await runCli([...args, '--resume'], { env: env() });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /Nothing left to do/);
});

test('a killed .json run leaves the earlier file untouched', { skip }, async () => {
  const { dir } = photoFolder(80);
  const out = path.join(tmp(), 'labels.json');
  const args = ['classify', dir, ...MODEL, '-b', '1', '-o', out];
  assert.equal((await runCli(args, { env: env() })).code, 0);
  const good = readFileSync(out);
  assert.equal(JSON.parse(good.toString()).length, 80);
  await killWhen(args, () => sizeOf(`${out}.partial`) > 2000 || !readFileSync(out).equals(good));
  assert.ok(readFileSync(out).equals(good));
});

test('a second run writing the same -o file is refused with one sentence; a stale lock is taken over', { skip }, async () => {
  const { paths } = photoFolder(6);
  const out = path.join(tmp(), 'labels.jsonl');
  // The first run reads its paths from stdin: it holds the output while stdin stays open.
  const child = spawn(process.execPath, [BIN, 'classify', '-', ...MODEL, '-o', out], { env: { ...process.env, ...env() }, stdio: ['pipe', 'ignore', 'ignore'] });
  const first = new Promise<number | null>((resolve) => child.on('close', resolve));
  child.stdin.write(paths.join('\n') + '\n');
  // (bounded, so that code without a lock fails below instead of hanging here)
  for (let i = 0; i < 6000 && !existsSync(`${out}.lock`); i++) await new Promise((r) => setTimeout(r, 5));
  const second = await runCli(['classify', paths[0]!, ...MODEL, '-o', out, '--resume'], { env: env() });
  child.stdin.end();
  assert.equal(second.code, 1, second.stderr);
  assert.match(second.stderr, new RegExp(`Another backbones run \\(PID ${child.pid}\\) is writing .*labels\\.jsonl`));
  assert.equal(second.stderr.trim().split('\n').filter((l) => l.startsWith('Error')).length, 1);
  assert.equal(await first, 0);
  const rows = parseJsonl(readFileSync(out, 'utf8'));
  assert.deepEqual(rows.map((r) => r.path), paths, 'every input once, in order: the refused run wrote nothing');
  assert.equal(existsSync(`${out}.lock`), false, 'the lock is removed at the end');

  // A lock left by a process that is gone does not block the next run.
  const dead = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => dead.on('close', r));
  writeFileSync(`${out}.lock`, `${dead.pid}\n`);
  const after = await runCli(['classify', APPLE, ...MODEL, '-o', out], { env: env() });
  assert.equal(after.code, 0, after.stderr);
  assert.equal(parseJsonl(readFileSync(out, 'utf8')).length, 1);
  assert.equal(existsSync(`${out}.lock`), false);
});

test('--resume checks the format before anything and never changes a file it refuses', { skip }, async () => {
  const dir = tmp();
  // json cannot be resumed, whether or not the file exists.
  const json = await runCli(['classify', APPLE, ...MODEL, '-o', path.join(dir, 'new.json'), '--resume'], { env: env() });
  assert.equal(json.code, 2);
  assert.match(json.stderr, /--resume works with jsonl, csv, npy, parquet output, not json/);
  assert.equal(existsSync(path.join(dir, 'new.json')), false);
  // A binary file named .npy that backbones did not write.
  const npy = path.join(dir, 'x.npy');
  const junk = Buffer.from('not an npy\n\x00\x01\x02 binary bytes without a final newline');
  writeFileSync(npy, junk);
  const n = await runCli(['extract', APPLE, ...MODEL, '-o', npy, '--resume'], { env: env() });
  assert.equal(n.code, 2, n.stderr);
  assert.match(n.stderr, /is not a 2-D float32 \.npy file written by backbones/);
  assert.ok(readFileSync(npy).equals(junk), 'the refused file is unchanged');
  // A text file that is not JSONL, with a torn last line: refused, not trimmed.
  const jsonl = path.join(dir, 'notes.jsonl');
  writeFileSync(jsonl, 'hello\nworld');
  const j = await runCli(['classify', APPLE, ...MODEL, '-o', jsonl, '--resume'], { env: env() });
  assert.equal(j.code, 2, j.stderr);
  assert.equal(readFileSync(jsonl, 'utf8'), 'hello\nworld');
  // --pool on a layer that is not spatial: refused before the first image, the earlier output kept.
  const kept = path.join(dir, 'kept.jsonl');
  writeFileSync(kept, '{"path":"a.jpg"}\n');
  const p = await runCli(['extract', APPLE, ...MODEL, '--pool', 'avg', '-o', kept], { env: env() });
  assert.equal(p.code, 2, p.stderr);
  assert.match(p.stderr, /--pool avg needs a spatial layer \[h, w, c\]; global_average_pooling2d_1 gives \[256\]/);
  assert.equal(readFileSync(kept, 'utf8'), '{"path":"a.jpg"}\n');
  assert.equal(existsSync(`${kept}.partial`), false);
});

test('a clean rerun removes the errors sidecar of an earlier run', { skip }, async () => {
  const out = path.join(tmp(), 'f.npy');
  const failed = await runCli(['extract', TRUNCATED, APPLE, ...MODEL, '-o', out], { env: env() });
  assert.equal(failed.code, 3, failed.stderr);
  assert.equal(parseJsonl(readFileSync(`${out}.errors.jsonl`, 'utf8'))[0]!.path, TRUNCATED);
  const clean = await runCli(['extract', APPLE, ...MODEL, '-o', out], { env: env() });
  assert.equal(clean.code, 0, clean.stderr);
  assert.equal(existsSync(`${out}.errors.jsonl`), false);
  assert.deepEqual(readNpy(out).shape, [1, 256]);
});

test('file names with line breaks keep the .npy row mapping (paths sidecar is JSON lines)', { skip }, async () => {
  const dir = tmp();
  const odd = path.join(dir, 'two\nlines.png');
  copyFileSync(CAT, odd);
  copyFileSync(APPLE, path.join(dir, 'z.jpg'));
  const out = path.join(tmp(), 'f.npy');
  const r = await runCli(['extract', dir, ...MODEL, '-o', out], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const lines = readFileSync(`${out}.paths.jsonl`, 'utf8').split('\n').filter(Boolean);
  assert.deepEqual(lines.map((l) => JSON.parse(l)), [odd, path.join(dir, 'z.jpg')]);
  assert.deepEqual(readNpy(out).shape, [2, 256]);
});

test('extract CSV: failed images are padded to the header width, and the header comes first', { skip }, async () => {
  const r = await runCli(['extract', TRUNCATED, APPLE, TRUNCATED, ...MODEL, '--format', 'csv'], { env: env() });
  assert.equal(r.code, 3, r.stderr);
  const rows = parseCsv(r.stdout);
  assert.equal(rows.length, 4);
  assert.deepEqual(rows[0]!.slice(0, 3), ['path', 'error', 'v0']);
  assert.equal(rows[0]!.length, 258);
  for (const row of rows) assert.equal(row.length, 258);
  assert.equal(rows[1]![0], TRUNCATED);
  assert.match(rows[1]![1]!, /Cannot decode/);
  assert.equal(rows[2]![0], APPLE);
});

test('JSONL shape is the shape of the vector: [c] after --pool', { skip }, async () => {
  const r = await runCli(['extract', APPLE, ...MODEL, '--layer', 'conv_pw_13_relu', '--pool', 'avg'], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const row = parseJsonl(r.stdout)[0]!;
  assert.deepEqual(row.shape, [256]);
  assert.equal(row.vector.length, 256);
});

test('an output folder that does not exist is one sentence, before the model loads', async () => {
  const out = path.join(tmp(), 'no', 'such', 'folder', 'x.jsonl');
  const r = await runCli(['classify', APPLE, ...MODEL, '-o', out], { env: env() });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /-o .*x\.jsonl: the folder .*folder does not exist; create it first\./);
  assert.doesNotMatch(r.stderr, /model:|ENOENT/);
});

test('-o through a symlink replaces the file it points to, and the link stays', { skip }, async () => {
  const dir = tmp();
  const real = path.join(dir, 'real.jsonl');
  const link = path.join(dir, 'link.jsonl');
  writeFileSync(real, 'old\n');
  symlinkSync(real, link);
  const r = await runCli(['classify', APPLE, ...MODEL, '-k', '1', '-o', link], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(parseJsonl(readFileSync(real, 'utf8'))[0]!.path, APPLE);
});
