// The output layer in-process: staged files, the output lock, and what --resume reads
// back from files a killed run could leave (torn lines, rows past the header's count).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { StagedFiles, partialPath, stageForAppend } from '../src/output/staged.js';
import { acquireOutputLock, lockPath } from '../src/output/lock.js';
import { npyHeader, npyWriter, readNpyResume, sidecarPaths } from '../src/output/npy.js';
import { csvWriter, readCsvResume } from '../src/output/csv.js';
import { readJsonlResume } from '../src/output/jsonl.js';
import { fileSink } from '../src/output/sink.js';
import { readNpy } from './helpers/npy.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'bb-stage-'));

test('staged files: nothing under the final names until commit; abandon keeps the partial files', async () => {
  const dir = tmp();
  const main = path.join(dir, 'out.jsonl');
  writeFileSync(main, 'old\n');
  const staged = new StagedFiles([main]);
  staged.open(main).write('new\n');
  assert.equal(readFileSync(main, 'utf8'), 'old\n');
  await staged.abandon();
  assert.equal(readFileSync(main, 'utf8'), 'old\n');
  assert.equal(readFileSync(partialPath(main), 'utf8'), 'new\n');
  const again = new StagedFiles([main, `${main}.errors.jsonl`]);
  writeFileSync(`${main}.errors.jsonl`, 'stale\n');
  again.open(main).write('newer\n');
  await again.commit();
  assert.equal(readFileSync(main, 'utf8'), 'newer\n');
  assert.equal(existsSync(partialPath(main)), false);
  assert.equal(existsSync(`${main}.errors.jsonl`), false, 'an owned file this run did not write is removed');
});

test('output lock: one holder; a dead PID is stale; a second taker in this process is refused', () => {
  const file = path.join(tmp(), 'out.jsonl');
  const lock = acquireOutputLock(file);
  assert.equal(readFileSync(lockPath(file), 'utf8').trim(), String(process.pid));
  assert.throws(() => acquireOutputLock(file), /Another run in this process is writing/);
  lock.release();
  assert.equal(existsSync(lockPath(file)), false);
  // A live process that is not us holds it.
  writeFileSync(lockPath(file), `${process.ppid}\n`);
  assert.throws(() => acquireOutputLock(file), new RegExp(`Another backbones run \\(PID ${process.ppid}\\) is writing`));
  // A process that has exited held it.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(lockPath(file), `${dead.stdout}\n`);
  const taken = acquireOutputLock(file);
  assert.equal(readFileSync(lockPath(file), 'utf8').trim(), String(process.pid));
  taken.release();
});

test('npy resume: rows past the header count and a torn path line are dropped; the writer appends and fixes the header', async () => {
  const dir = tmp();
  const file = path.join(dir, 'f.npy');
  const side = sidecarPaths(file);
  // A partial file as a kill could leave it: header says 2 rows, 2.5 rows of data, 3 paths and a torn one.
  const rows = Float32Array.from({ length: 10 }, (_, i) => i);
  writeFileSync(partialPath(file), Buffer.concat([Buffer.from(npyHeader(2, 4)), Buffer.from(rows.buffer)]));
  writeFileSync(partialPath(side.paths), '"a\\nb.png"\n"c.png"\n"d.png"\n"e.p');
  const state = readNpyResume(file);
  assert.deepEqual([...state.done], ['a\nb.png', 'c.png']);
  assert.equal(state.rows, 2);
  assert.equal(state.columns, 4);
  assert.ok(state.fromPartial);
  for (const f of state.files) stageForAppend(f.file, f.source, f.keepBytes);
  const staged = new StagedFiles([file, side.paths, side.errors]);
  const sink = staged.open(file, { append: true });
  const writer = npyWriter(sink, { kind: 'extract', colour: false, appending: true, resumed: state, file, open: (f, o) => staged.open(f, o) });
  writer.write({ path: 'f.png', model: 'm', layer: 'l', shape: [4], vector: Float32Array.from([9, 9, 9, 9]) });
  assert.throws(() => writer.write({ path: 'g.png', model: 'm', layer: 'l', shape: [3], vector: Float32Array.from([1, 2, 3]) }), /has 4 values per row; g\.png gives 3/);
  await writer.close();
  await staged.commit();
  const npy = readNpy(file);
  assert.deepEqual(npy.shape, [3, 4]);
  assert.deepEqual([...npy.data], [0, 1, 2, 3, 4, 5, 6, 7, 9, 9, 9, 9]);
  assert.deepEqual(readFileSync(side.paths, 'utf8').trim().split('\n').map((l) => JSON.parse(l)), ['a\nb.png', 'c.png', 'f.png']);
});

test('csv and jsonl resume read quoted line breaks and drop a torn last record', () => {
  const dir = tmp();
  const csv = path.join(dir, 'f.csv');
  writeFileSync(csv, 'path,error,v0,v1\n"odd\nname.png",,1,2\nplain.png,,3,4\n"torn.png",,5');
  const c = readCsvResume(csv);
  assert.deepEqual([...c.done], ['odd\nname.png', 'plain.png']);
  assert.equal(c.columns, 2);
  assert.equal(c.files[0]!.keepBytes, Buffer.byteLength('path,error,v0,v1\n"odd\nname.png",,1,2\nplain.png,,3,4\n'));
  const jsonl = path.join(dir, 'f.jsonl');
  writeFileSync(jsonl, '{"path":"a.png"}\n{"path":"b.pn');
  const j = readJsonlResume(jsonl);
  assert.deepEqual([...j.done], ['a.png']);
  assert.equal(j.files[0]!.keepBytes, '{"path":"a.png"}\n'.length);
  assert.equal(readFileSync(jsonl, 'utf8'), '{"path":"a.png"}\n{"path":"b.pn', 'reading never changes the file');
  appendFileSync(jsonl, 'g"}\nnot json\n');
  assert.throws(() => readJsonlResume(jsonl), /line 3 of .* is not a backbones JSONL record/);
});

test('extract csv pads failed rows, also when they come before the first vector', async () => {
  const file = path.join(tmp(), 'f.csv');
  const sink = fileSink(file);
  const w = csvWriter(sink, { kind: 'extract', colour: false, appending: false, file });
  w.write({ path: 'bad.jpg', error: 'Cannot decode, really' });
  w.write({ path: 'ok.jpg', model: 'm', layer: 'l', shape: [3], vector: Float32Array.from([1, 2, 3]) });
  w.write({ path: 'bad2.jpg', error: 'x' });
  await w.close();
  assert.equal(readFileSync(file, 'utf8'), 'path,error,v0,v1,v2\nbad.jpg,"Cannot decode, really",,,\nok.jpg,,1,2,3\nbad2.jpg,x,,,\n');
});
