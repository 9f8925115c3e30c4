// What `--decode fast` saves per image: decode + resize + preprocess of each file in a
// folder, one at a time in this thread, exact vs fast interleaved, median of N rounds
// (the first round is warm-up; the order of the two modes alternates by round). Besides
// wall time, the process CPU time of each call (all threads: libvips decodes on its own),
// which a busy machine distorts much less. Prints per-file medians and the totals as JSON.
//
//   npx tsx bench/decode-speed.ts DIR [ROUNDS=5]
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { loadImageForModel, shrinkOnLoadSize, type DecodeMode } from '../src/images/index.js';
import { expandInputs } from '../src/images/inputs.js';
import { DEFAULT_EXTENSIONS } from '../src/images/formats.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: npx tsx bench/decode-speed.ts DIR [ROUNDS]');
const rounds = Number(process.argv[3] ?? 5);
const files = (await expandInputs([dir], { extensions: DEFAULT_EXTENSIONS })).map((e) => e.path);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const times = new Map<string, Record<DecodeMode, number[]>>();
const cpuTimes = new Map<string, Record<DecodeMode, number[]>>();
for (let r = 0; r <= rounds; r++) {
  for (const file of files) {
    // Alternate which mode goes first, so neither always gets the warm file cache.
    for (const decode of r % 2 === 0 ? (['exact', 'fast'] as const) : (['fast', 'exact'] as const)) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      try {
        await loadImageForModel(file, { size: [224, 224], preprocess: 'tf', decode });
      } catch {
        continue;
      }
      const c = process.cpuUsage(c0);
      if (r === 0) continue; // warm-up
      const row = times.get(file) ?? { exact: [], fast: [] };
      row[decode].push(performance.now() - t0);
      times.set(file, row);
      const cpuRow = cpuTimes.get(file) ?? { exact: [], fast: [] };
      cpuRow[decode].push((c.user + c.system) / 1000);
      cpuTimes.set(file, cpuRow);
    }
  }
}
const groups = {
  all: { n: 0, exact: 0, fast: 0, exactCpu: 0, fastCpu: 0 },
  shrunk: { n: 0, exact: 0, fast: 0, exactCpu: 0, fastCpu: 0 },
  whole: { n: 0, exact: 0, fast: 0, exactCpu: 0, fastCpu: 0 },
};
for (const [file, t] of times) {
  const e = median(t.exact);
  const f = median(t.fast);
  const m = await sharp(file).metadata();
  const shrinks = shrinkOnLoadSize({ format: m.format ?? '', width: m.width ?? 0, height: m.height ?? 0, orientation: m.orientation ?? null, pages: m.pages ?? 1 }, { minWidth: 448, minHeight: 448 }) !== null;
  for (const g of [groups.all, shrinks ? groups.shrunk : groups.whole]) {
    g.n += 1;
    g.exact += e;
    g.fast += f;
    g.exactCpu += median(cpuTimes.get(file)!.exact);
    g.fastCpu += median(cpuTimes.get(file)!.fast);
  }
  console.log(`${e.toFixed(1).padStart(7)} ms exact ${f.toFixed(1).padStart(7)} ms fast  ${(e / f).toFixed(1).padStart(5)}x  ${shrinks ? 'shrunk' : 'whole '}  ${file.split('/').pop()}`);
}
const summary = Object.fromEntries(
  Object.entries(groups).map(([k, g]) => [k, { files: g.n, exactMsPerImage: g.exact / g.n, fastMsPerImage: g.fast / g.n, ratio: g.exact / g.fast, exactCpuMsPerImage: g.exactCpu / g.n, fastCpuMsPerImage: g.fastCpu / g.n, cpuRatio: g.exactCpu / g.fastCpu }]),
);
console.log(JSON.stringify({ rounds, ...summary }));
