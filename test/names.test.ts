// One meaning per name across src/ (issue 20): "worker" is the queue worker (BullMQ
// consumer, `backbones worker`), "engine" the src/engines seam, "pool" the decode pool;
// and one file, src/spawn.ts, starts threads and child processes. Each test names the
// file and line that breaks the rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SRC, sourceFiles } from './helpers/source.js';

const files = sourceFiles(SRC).map((f) => path.relative(SRC, f).split(path.sep).join('/'));
const text = (f: string) => readFileSync(path.join(SRC, f), 'utf8');
const stripComments = (s: string) => s.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
/** `file:line: text` for each line of `source` (the file's text, cleaned line for line) that matches `re`. */
const hits = (f: string, source: string, re: RegExp) => {
  const lines = text(f).split('\n');
  return source.split('\n').flatMap((line, i) => (re.test(line) ? [`${f}:${i + 1}: ${lines[i]!.trim()}`] : []));
};

test('file names: "worker" is the queue worker, "engine" the src/engines folder, "pool" the decode pool', () => {
  assert.ok(files.includes('queue/worker.ts') && files.includes('pipeline/decode-pool.ts'), 'the scan found src/');
  const base = (f: string) => f.split('/').pop()!;
  assert.deepEqual(files.filter((f) => /worker/i.test(f)), ['commands/worker.ts', 'queue/worker.ts']);
  assert.deepEqual(files.filter((f) => /engine/i.test(base(f))), []);
  assert.deepEqual(files.filter((f) => /pool(?!ing)/i.test(f)), ['pipeline/decode-pool.ts']);
});

/** Files about the queue worker, where "worker" needs no qualifier. */
const QUEUE_FILES = /^(queue\/|commands\/(worker|queue[\w-]*)\.ts$|cli\.ts$)/;
/** What else may say "worker": the queue worker by name, the user's --workers flag and its key, Node's API. */
const WORKER_ALLOWED = [
  /queue workers?\b/gi,
  /`backbones worker`/g,
  /^\s*worker: '/gm, // the `worker` command's name as a key (commands/manual.ts)
  /--workers\b/g,
  /\.workers\b|\bworkers\??\s*:|'workers'/g, // the --workers flag's option key (SpecOptions, RunSpec.run)
  /\bworker_threads\b|\bworkerData\b/g, // node:worker_threads' own names
];

test('"worker" (code and comments) names only the queue worker outside src/queue', () => {
  const found: string[] = [];
  for (const f of files.filter((x) => !QUEUE_FILES.test(x) && x !== 'spawn.ts')) {
    const cleaned = WORKER_ALLOWED.reduce((s, re) => s.replace(re, ''), text(f));
    found.push(...hits(f, cleaned, /worker/i));
  }
  assert.deepEqual(found, [], 'say "model thread" (--workers), "decode thread", "inference thread" or "bench child"; "queue worker" for the BullMQ consumer');
});

test('"engine" and "pool" name no other type: no *Engine type outside src/engines, no Pool type, no pool function but the decode pool', () => {
  const found: string[] = [];
  for (const f of files) {
    const code = stripComments(text(f));
    if (!f.startsWith('engines/')) found.push(...hits(f, code, /\b(?:class|interface|type|enum)\s+\w*Engine\b/));
    found.push(...hits(f, code, /\b(?:class|interface|type|enum)\s+\w*Pool(?!ing)\w*\b/));
    found.push(...hits(f, code, /\bfunction\s+(?!startDecodePool\b)\w*pool(?!ing|ed)\w*/i));
  }
  assert.deepEqual(found, [], 'ONNX Runtime sessions are OnnxSession, serve\'s is InferenceThread; avg/max is Pooling');
});

test('one spawn helper: only src/spawn.ts constructs a thread, forks a child or resolves a .ts entry', () => {
  const found: string[] = [];
  for (const f of files.filter((x) => x !== 'spawn.ts')) found.push(...hits(f, stripComments(text(f)), /new Worker\s*\(|\bfork\s*\(|\.ts['"`]|tsx/));
  assert.deepEqual(found, [], 'start threads with startThread and child processes with startChild (src/spawn.ts)');
  const spawn = stripComments(text('spawn.ts'));
  assert.match(spawn, /new Worker\(/);
  assert.match(spawn, /\bfork\(/);
});
