// Memory over a long folder run: classify N images (the shared photos, cycled) with
// the real MobileNet 0.25 through the same batch runner and per-batch function as
// `backbones classify`, printing RSS and tf.memory() every 500 images. Flat numbers
// mean no tensor or buffer leaks.
//   npx tsx bench/memory-soak.ts [N=10000] [batch=8]
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEngine } from '../src/engines/select.js';
import { loadBackbone } from '../src/zoo/load.js';
import { runBatches } from '../src/pipeline/batches.js';
import { classifyBatch } from '../src/tasks/classify.js';
import { tf } from '../src/tf.js';

const data = path.resolve(process.env.BACKBONES_TEST_DATA ?? '../shared/data');
const n = Number(process.argv[2] ?? 10_000);
const batchSize = Number(process.argv[3] ?? 8);
const photos = readdirSync(path.join(data, 'images'))
  .filter((f) => !f.startsWith('truncated') && !f.startsWith('forest_path')) // the 5120x2880 one would dominate decode time
  .map((f) => path.join(data, 'images', f));
const entries = Array.from({ length: n }, (_, i) => ({ path: photos[i % photos.length]! }));

const engine = await startEngine({ backend: 'wasm' });
const choice = engine.choice;
const backbone = await loadBackbone(path.join(data, 'models', 'mobilenet_v1_0.25_224'), { preprocess: 'tf', engine });
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
console.log(`backend ${choice.label}; ${n} images (${photos.length} photos cycled), batch ${batchSize}`);
console.log('images\tRSS MiB\theap MiB\ttf tensors\ttf MiB\timg/s');
let done = 0;
const t0 = performance.now();
await runBatches(entries, { size: backbone.info.inputSize, preprocess: 'tf' }, batchSize, (b) => classifyBatch(backbone, b, 5), () => {
  done += 1;
  if (done % 500 === 0 || done === n) {
    const m = tf.memory();
    const heap = process.memoryUsage().heapUsed;
    console.log(`${done}\t${mib(process.memoryUsage.rss())}\t${mib(heap)}\t${m.numTensors}\t${mib(m.numBytes)}\t${(done / ((performance.now() - t0) / 1000)).toFixed(1)}`);
  }
});
console.log(`max RSS ${mib(process.resourceUsage().maxRSS * 1024)} MiB`);
