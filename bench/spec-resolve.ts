// What the run spec costs before a run starts: resolveSpec for a zoo name (no file to
// hash), for the real MobileNet 0.25 model file (model.json + 55 shards hashed), and for
// a --weights file the size of VGG16's Keras .h5 (528 MB of bytes, hashed), against
// simply reading that file once. Rounds interleave the cases, so the figures compare.
//
//   npx tsx bench/spec-resolve.ts [ROUNDS=5] [MB=528]
//
// The big file is written to $TMPDIR and removed at the end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomFillSync } from 'node:crypto';
import { resolveSpec } from '../src/spec/spec.js';

const rounds = Number(process.argv[2] ?? 5);
const mb = Number(process.argv[3] ?? 528);
const data = process.env.BACKBONES_TEST_DATA ?? path.resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const modelFile = path.join(data, 'models', 'mobilenet_v1_0.25_224', 'model.json');

const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-spec-bench-'));
const weights = path.join(dir, 'big_weights.h5');
const chunk = Buffer.alloc(16 * 1024 * 1024);
writeFileSync(weights, '');
for (let written = 0; written < mb * 1024 * 1024; written += chunk.length) writeFileSync(weights, randomFillSync(chunk), { flag: 'a' });

const cases: Record<string, () => Promise<unknown>> = {
  'zoo name (mobilenet_0.25)': () => resolveSpec({ model: 'mobilenet_0.25' }, { task: 'extract' }),
  'model file (0.25 model.json + shards, 1.9 MB)': () => resolveSpec({ model: modelFile, layer: 'conv_preds', preprocess: 'tf' }, { task: 'extract' }),
  [`--weights file (${mb} MB, hashed)`]: () => resolveSpec({ model: 'vgg16', weights }, { task: 'extract' }),
  [`readFile of the same ${mb} MB (reference)`]: () => readFile(weights),
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
try {
  await Promise.all(Object.values(cases).map((f) => f())); // warm: module loading, page cache
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of Object.entries(cases)) {
      const t0 = performance.now();
      await run();
      times[name]!.push(performance.now() - t0);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`| case | median ms | min–max ms (${rounds} rounds) |`);
console.log('| --- | ---: | ---: |');
for (const [name, xs] of Object.entries(times)) console.log(`| ${name} | ${median(xs).toFixed(1)} | ${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} |`);
