// Search at scale (issue 23): synthetic clustered vectors (seeded), written to a Lance
// store through the same code as extract --to: insert rate, exact-search latency,
// index build time, ANN latency and recall@10 against exact search, per index setting.
//   npx tsx bench/search-scale.ts [--rows 100000] [--dim 1024] [--queries 100] [--exact-queries 10] [--clusters 1000] [--kinds ivf-hnsw-sq,ivf-pq]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ANN_DEFAULTS, LanceStore, lanceTarget, type IndexKind, type StoredRow } from '../src/store/lance.js';
import type { StoredSpec } from '../src/store/stored-spec.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const ROWS = Number(arg('rows', '100000'));
const DIM = Number(arg('dim', '1024'));
const QUERIES = Number(arg('queries', '100'));
const CLUSTERS = Number(arg('clusters', '1000'));
const KINDS = arg('kinds', 'ivf-hnsw-sq,ivf-pq').split(',') as IndexKind[];
/** Exact (flat) search is slow at scale: its latency is measured on this many queries. */
const EXACT_QUERIES = Number(arg('exact-queries', '10'));
const K = 10;

// mulberry32 + Box-Muller: the same vectors on every run.
function rng(seed: number) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

const gauss = rng(20261206);
const centres = Float32Array.from({ length: CLUSTERS * DIM }, () => gauss());
// Points scattered around a centre (noise 0.5 per axis: clusters overlap in their tails).
function point(into: Float32Array, at: number) {
  const c = Math.floor(Math.abs(gauss() * 1e6)) % CLUSTERS;
  for (let j = 0; j < DIM; j++) into[at + j] = centres[c * DIM + j]! + 0.5 * gauss();
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  const r = (s.length - 1) * p;
  return s[Math.floor(r)]! + (s[Math.ceil(r)]! - s[Math.floor(r)]!) * (r - Math.floor(r));
};

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-search-scale-'));
  const synthetic: StoredSpec = { record: { fingerprint: 'synthetic', fields: { model: 'synthetic' } }, options: {} };
  try {
    const target = lanceTarget(path.join(dir, 'scale.lance'), '--to');
    const store = await LanceStore.create(target, synthetic, DIM);
    const CHUNK = 10_000;
    let insertMs = 0;
    // Every vector is kept here too: the exact answers are computed in this process, independently of LanceDB.
    const all = new Float32Array(ROWS * DIM);
    for (let start = 0; start < ROWS; start += CHUNK) {
      const n = Math.min(CHUNK, ROWS - start);
      const flat = all.subarray(start * DIM, (start + n) * DIM);
      for (let i = 0; i < n; i++) point(flat, i * DIM);
      const rows: StoredRow[] = Array.from({ length: n }, (_, i) => ({ path: `/synthetic/${start + i}.jpg`, vector: flat.subarray(i * DIM, (i + 1) * DIM), width: 0, height: 0, bytes: 0, mtime: 0, run: 'bench' }));
      insertMs += (await timed(() => store.add(rows)))[1];
    }
    console.error(`inserted ${ROWS} × ${DIM} in ${(insertMs / 1000).toFixed(1)} s (${Math.round(ROWS / (insertMs / 1000))} rows/s)`);
    const queries = Array.from({ length: QUERIES }, () => {
      const q = new Float32Array(DIM);
      point(q, 0);
      return q;
    });
    const norms = new Float32Array(ROWS);
    for (let r = 0; r < ROWS; r++) {
      let s = 0;
      for (let j = 0; j < DIM; j++) s += all[r * DIM + j]! ** 2;
      norms[r] = Math.sqrt(s);
    }
    const truth: Set<string>[] = queries.map((q) => {
      const sims = new Float32Array(ROWS);
      for (let r = 0; r < ROWS; r++) {
        let s = 0;
        for (let j = 0; j < DIM; j++) s += all[r * DIM + j]! * q[j]!;
        sims[r] = s / norms[r]!;
      }
      const top = Array.from(sims.keys()).sort((a, b) => sims[b]! - sims[a]!).slice(0, K);
      return new Set(top.map((r) => `/synthetic/${r}.jpg`));
    });
    // LanceDB's exact (flat) search: its latency, and a check that it agrees with the answers above.
    const exactMs: number[] = [];
    let exactHits = 0;
    for (const [i, q] of queries.slice(0, EXACT_QUERIES).entries()) {
      const [found, ms] = await timed(() => store.search(q, K, { exact: true }));
      exactMs.push(ms);
      exactHits += found.filter((f) => truth[i]!.has(f.path)).length;
    }
    console.error(`LanceDB exact search agrees with the in-process answers on ${exactHits} of ${K * Math.min(EXACT_QUERIES, QUERIES)} results`);
    console.error(`exact: p50 ${pct(exactMs, 0.5).toFixed(1)} ms, p99 ${pct(exactMs, 0.99).toFixed(1)} ms`);
    const results: Record<string, unknown>[] = [{ setting: 'exact (no index)', buildS: 0, p50: pct(exactMs, 0.5), p99: pct(exactMs, 0.99), recall: 1 }];
    for (const kind of KINDS) {
      const [, buildMs] = await timed(() => store.createIndex(kind));
      console.error(`${kind}: index built in ${(buildMs / 1000).toFixed(1)} s (${new Date().toISOString()})`);
      // The defaults (ANN_DEFAULTS: nprobes 20, refine ×10, ef 100) and one step either side.
      const settings = kind === 'ivf-pq' ? [{ refineFactor: 1 }, {}, { nprobes: 50 }] : [{}, { ef: 300 }];
      for (const s of settings) {
        const ms: number[] = [];
        let hits = 0;
        for (const [i, q] of queries.entries()) {
          const [found, t] = await timed(() => store.search(q, K, s));
          ms.push(t);
          hits += found.filter((f) => truth[i]!.has(f.path)).length;
        }
        const recall = hits / (K * QUERIES);
        const all = { ...ANN_DEFAULTS, ...s };
        const label = kind === 'ivf-pq' ? `${kind} nprobes ${all.nprobes}, refine ×${all.refineFactor}` : `${kind} ef ${Math.max(all.ef, K * all.refineFactor)}, refine ×${all.refineFactor}`;
        console.error(`${label}: p50 ${pct(ms, 0.5).toFixed(1)} ms, p99 ${pct(ms, 0.99).toFixed(1)} ms, recall@10 ${recall.toFixed(3)}`);
        results.push({ setting: label, buildS: buildMs / 1000, p50: pct(ms, 0.5), p99: pct(ms, 0.99), recall });
      }
    }
    store.close();
    console.log(JSON.stringify({ rows: ROWS, dim: DIM, queries: QUERIES, clusters: CLUSTERS, insertS: insertMs / 1000, insertRowsPerS: ROWS / (insertMs / 1000), results }, null, 2));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
