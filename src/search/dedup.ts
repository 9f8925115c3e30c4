// Near-duplicate groups from feature vectors: every pair whose cosine similarity is at
// least the threshold is joined, and joined pairs are merged transitively (a~b and b~c
// put a, b and c in one group even when a and c are below the threshold). Exact: every
// pair is compared (O(N²·D), in blocks that stay in the CPU cache).
import type { StoredImage } from '../store/lance.js';

export interface Pair {
  a: number;
  b: number;
  similarity: number;
}

/** Unit-length copies of the rows of an N×dim matrix (zero rows stay zero). */
export function normalizeRows(vectors: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(vectors.length);
  for (let r = 0; r * dim < vectors.length; r++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += vectors[r * dim + j]! * vectors[r * dim + j]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) out[r * dim + j] = vectors[r * dim + j]! * inv;
  }
  return out;
}

/** Every pair i < j of unit rows with cosine similarity ≥ threshold. */
export function similarPairs(unit: Float32Array, dim: number, threshold: number): Pair[] {
  const n = unit.length / dim;
  const pairs: Pair[] = [];
  const BLOCK = 64;
  for (let i0 = 0; i0 < n; i0 += BLOCK) {
    const i1 = Math.min(n, i0 + BLOCK);
    for (let j0 = i0; j0 < n; j0 += BLOCK) {
      const j1 = Math.min(n, j0 + BLOCK);
      for (let i = i0; i < i1; i++) {
        const a = i * dim;
        for (let j = Math.max(j0, i + 1); j < j1; j++) {
          const b = j * dim;
          let s = 0;
          for (let k = 0; k < dim; k++) s += unit[a + k]! * unit[b + k]!;
          if (s >= threshold) pairs.push({ a: i, b: j, similarity: Math.min(1, s) });
        }
      }
    }
  }
  return pairs;
}

/** Connected components of the pairs (union-find), only those with two members or more, each sorted by index. */
export function transitiveGroups(n: number, pairs: Pair[]): number[][] {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  for (const p of pairs) {
    const ra = find(p.a);
    const rb = find(p.b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
  const groups = new Map<number, number[]>();
  const inPair = new Set<number>();
  for (const p of pairs) inPair.add(p.a).add(p.b);
  for (const x of [...inPair].sort((a, b) => a - b)) {
    const root = find(x);
    const g = groups.get(root);
    if (g) g.push(x);
    else groups.set(root, [x]);
  }
  return [...groups.values()];
}

/** The member to keep: the largest pixel count, then the oldest file, then the first path. */
export function keeperOf(members: StoredImage[]): StoredImage {
  return [...members].sort((x, y) => y.width * y.height - x.width * x.height || x.mtime - y.mtime || (x.path < y.path ? -1 : x.path > y.path ? 1 : 0))[0]!;
}

export interface DuplicateGroup {
  /** 1-based, largest group first. */
  group: number;
  size: number;
  keeper: string;
  /** Each member, with its cosine similarity to the keeper (1 for the keeper). */
  members: (StoredImage & { keeper: boolean; similarity: number })[];
  /** Every pair in the group at or above the threshold (what joined it). */
  pairs: { a: string; b: string; similarity: number }[];
}

/** Groups of near-duplicates among `images` (rows of `vectors`), largest first. */
export function duplicateGroups(images: StoredImage[], vectors: Float32Array, dim: number, threshold: number): DuplicateGroup[] {
  const unit = normalizeRows(vectors, dim);
  const pairs = similarPairs(unit, dim, threshold);
  const groups = transitiveGroups(images.length, pairs);
  const groupOf = new Map<number, number>();
  groups.forEach((g, i) => g.forEach((m) => groupOf.set(m, i)));
  const pairsOf = groups.map(() => [] as Pair[]);
  for (const p of pairs) pairsOf[groupOf.get(p.a)!]!.push(p);
  const round = (x: number) => Math.round(x * 1e6) / 1e6;
  return groups
    .map((g, i) => {
      const members = g.map((m) => images[m]!);
      const keeper = keeperOf(members);
      const k = g[members.indexOf(keeper)]! * dim;
      const toKeeper = (m: number) => {
        let s = 0;
        for (let j = 0; j < dim; j++) s += unit[m * dim + j]! * unit[k + j]!;
        return round(Math.min(1, s));
      };
      return {
        group: 0,
        size: g.length,
        keeper: keeper.path,
        members: members.map((m, j) => ({ ...m, keeper: m === keeper, similarity: m === keeper ? 1 : toKeeper(g[j]!) })),
        pairs: pairsOf[i]!.sort((x, y) => y.similarity - x.similarity).map((p) => ({ a: images[p.a]!.path, b: images[p.b]!.path, similarity: round(p.similarity) })),
      };
    })
    .sort((x, y) => y.size - x.size || (x.keeper < y.keeper ? -1 : 1))
    .map((g, i) => ({ ...g, group: i + 1 }));
}
