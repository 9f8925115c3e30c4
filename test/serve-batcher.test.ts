// The dynamic batcher on its own (no model): when batches run, what goes into them,
// cancellation, draining, and failure isolation between batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher } from '../src/serve/batcher.js';

const FOREVER = 600_000;

function recorder(fail?: (lane: string, items: number[]) => boolean) {
  const batches: { lane: string; items: number[] }[] = [];
  const run = async (lane: string, items: number[]) => {
    batches.push({ lane, items });
    if (fail?.(lane, items)) throw new Error(`batch ${items.join(',')} failed`);
    return items.map((x) => x * 10);
  };
  return { batches, run };
}

test('a lane runs as soon as --max-batch items wait, in submission order, one answer per item', async () => {
  const { batches, run } = recorder();
  const depths: number[] = [];
  const b = new Batcher(run, { maxBatch: 3, maxDelayMs: FOREVER }, { queueDepth: (n) => depths.push(n) });
  const answers = await Promise.all([1, 2, 3].map((x) => b.submit('a', x).result));
  assert.deepEqual(answers, [10, 20, 30]);
  assert.deepEqual(batches, [{ lane: 'a', items: [1, 2, 3] }]);
  assert.deepEqual(depths, [1, 2, 3, 0]);
  assert.equal(b.idle, true);
});

test('lanes never mix, and a partial batch runs once the oldest item has waited --max-delay-ms', async () => {
  const { batches, run } = recorder();
  const b = new Batcher(run, { maxBatch: 8, maxDelayMs: 1 });
  const answers = await Promise.all([b.submit('a', 1).result, b.submit('b', 2).result, b.submit('a', 3).result]);
  assert.deepEqual(answers, [10, 20, 30]);
  assert.deepEqual(batches.map((x) => x.lane).sort(), ['a', 'b']);
  assert.deepEqual(batches.find((x) => x.lane === 'a')!.items, [1, 3]);
});

test('a cancelled item leaves the queue and never reaches a batch; drain() runs what waits without delay', async () => {
  const { batches, run } = recorder();
  const b = new Batcher(run, { maxBatch: 8, maxDelayMs: FOREVER });
  const gone = b.submit('a', 1);
  const kept = b.submit('a', 2);
  gone.cancel();
  assert.equal(b.depth, 1);
  kept.cancel();
  assert.equal(b.depth, 0);
  assert.equal(b.idle, true, 'no timer or batch left behind');
  const again = b.submit('a', 2);
  await b.drain();
  assert.equal(await again.result, 20);
  assert.deepEqual(batches, [{ lane: 'a', items: [2] }]);
});

test('a failed batch rejects its own items only; the next batch runs', async () => {
  const { batches, run } = recorder((_lane, items) => items.includes(1));
  const b = new Batcher(run, { maxBatch: 2, maxDelayMs: FOREVER });
  const first = [b.submit('a', 1).result, b.submit('a', 2).result];
  const second = [b.submit('a', 3).result, b.submit('a', 4).result];
  const settled = await Promise.allSettled([...first, ...second]);
  assert.deepEqual(settled.map((s) => s.status), ['rejected', 'rejected', 'fulfilled', 'fulfilled']);
  assert.deepEqual(batches.map((x) => x.items), [[1, 2], [3, 4]]);
});
