// src/spawn.ts: the threads this project starts get the V8 heap limits asked for (serve's
// inference thread keeps its young generation at 4 MB: bench/RESULTS.md §15.8), also when
// run from source under tsx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { startThread } from '../src/spawn.js';

test('startThread: the resource limits asked for apply in the thread (young generation capped)', async () => {
  const report = async (limits?: { maxYoungGenerationSizeMb: number }) => {
    const thread = startThread('./helpers/heap-thread.js', import.meta.url, null, limits);
    const [msg] = (await once(thread, 'message')) as [{ resourceLimits: { maxYoungGenerationSizeMb: number }; newSpaceMb: number }];
    await thread.terminate();
    return msg;
  };
  const capped = await report({ maxYoungGenerationSizeMb: 4 });
  assert.equal(capped.resourceLimits.maxYoungGenerationSizeMb, 4);
  assert.ok(capped.newSpaceMb <= 4, `new space ${capped.newSpaceMb} MB`);
  const free = await report();
  assert.ok(free.resourceLimits.maxYoungGenerationSizeMb > 4, `default ${free.resourceLimits.maxYoungGenerationSizeMb} MB`);
});
