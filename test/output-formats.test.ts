// The output-format registry (src/output/index.ts): the --format choices each command
// gets, the format a file name implies, and every format rule in one check.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkOutput, extensionsHolding, formatFromExtension, formatsHolding, OUTPUT_FORMATS, outputFiles } from '../src/output/index.js';

test('each command is offered the formats that can hold its records', () => {
  assert.deepEqual([...OUTPUT_FORMATS], ['table', 'jsonl', 'json', 'csv', 'npy', 'parquet']);
  assert.deepEqual(formatsHolding('classify'), ['table', 'jsonl', 'json', 'csv']);
  // npy holds fixed-width float vectors only, the table top-k labels only.
  assert.deepEqual(formatsHolding('extract'), ['jsonl', 'json', 'csv', 'npy', 'parquet']);
  assert.deepEqual(extensionsHolding('extract'), ['.jsonl', '.ndjson', '.json', '.csv', '.npy', '.parquet']);
});

test('the format of an -o file comes from its extension; the table never does', () => {
  assert.equal(formatFromExtension('out/a.NPY'), 'npy');
  assert.equal(formatFromExtension('a.ndjson'), 'jsonl');
  assert.equal(formatFromExtension('a.csv'), 'csv');
  assert.equal(formatFromExtension('features.parquet'), 'parquet');
  assert.equal(formatFromExtension('a.table'), undefined);
  assert.equal(formatFromExtension('a.txt'), undefined);
  assert.equal(formatFromExtension(undefined), undefined);
  assert.deepEqual(outputFiles('npy', 'f.npy'), ['f.npy', 'f.npy.paths.jsonl', 'f.npy.errors.jsonl']);
  assert.deepEqual(outputFiles('csv', 'f.csv'), ['f.csv']);
});

test('checkOutput: every rule of a format, one usage error each', () => {
  const usage = (message: RegExp) => (e: unknown) => (e as { code?: string }).code === 'E_USAGE' && message.test((e as Error).message);
  assert.throws(() => checkOutput('xml', 'extract', {}), usage(/^Unknown output format "xml": valid formats are table, jsonl, json, csv, npy, parquet\.$/));
  assert.throws(() => checkOutput('npy', 'classify', { output: 'a.npy' }), usage(/^--format npy is for extract; classify writes table, jsonl, json or csv\.$/));
  assert.throws(() => checkOutput('parquet', 'extract', {}), usage(/^--format parquet needs -o FILE\.parquet \(it writes its footer at the end\)\.$/));
  assert.throws(() => checkOutput('parquet', 'classify', { output: 'a.parquet' }), usage(/^--format parquet is for extract;/));
  assert.throws(() => checkOutput('npy', 'extract', {}), usage(/^--format npy needs -o FILE\.npy \(it writes a header at the end and sidecar files\)\.$/));
  assert.throws(() => checkOutput('npy', 'extract', { output: '/dev/stdout', special: true }), usage(/^-o \/dev\/stdout is not a regular file: \.npy needs one\.$/));
  assert.throws(() => checkOutput('jsonl', 'extract', { output: '/dev/stdout', special: true, resume: true }), usage(/--resume needs one\.$/));
  assert.throws(() => checkOutput('json', 'classify', { output: 'a.json', resume: true }), usage(/^--resume works with jsonl, csv, npy, parquet output, not json\.$/));
  // What is allowed passes.
  checkOutput('npy', 'extract', { output: 'a.npy', resume: true });
  checkOutput('jsonl', 'classify', { output: '/dev/stdout', special: true });
  checkOutput('table', 'classify', {});
});
