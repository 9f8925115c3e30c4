// bench/SCHEMA.md against the code: the page is what `npm run schema` generates from the
// report's types now, and every field of a report is documented there (the real reports of
// `backbones bench` are checked the same way in bench.test.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { documentedPaths, renderSchema, SCHEMA_FILE } from '../bench/schema.js';
import { fieldPaths } from './helpers/report-paths.js';
import { fakeReport } from './helpers/bench-fixtures.js';

test('bench/SCHEMA.md is up to date with the types (run `npm run schema` after changing them)', () => {
  assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), renderSchema());
});

test('every field of a report is documented, nested objects and warnings included', () => {
  const documented = documentedPaths();
  const report = fakeReport();
  const fields = fieldPaths(report);
  assert.ok(fields.has('models[].runs[].latencyMs.p99') && fields.has('machine.cores.logical'), [...fields].join(' '));
  for (const f of fields) assert.ok(documented.has(f), `${f} is not in bench/SCHEMA.md`);
  // And the check can fail: a field the types do not have is reported.
  assert.equal(documented.has('models[].runs[].notAField'), false);
});

test('the page documents what the types declare, nested fields flattened', () => {
  const documented = documentedPaths();
  for (const f of ['schemaVersion', 'machine.gpus[].name', 'models[].precision', 'models[].runs[].endToEnd.limitingStage', 'models[].runs[].gpu.utilizationMeanPercent', 'models[].warnings[].kind']) {
    assert.ok(documented.has(f), f);
  }
  assert.match(readFileSync(SCHEMA_FILE, 'utf8'), /^\| `precision` \| `"fp32"` \\\| `"int8"` \\\| `"fp16"`, optional \| /m);
});
