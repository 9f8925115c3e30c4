// The vector store, search, dedup, serve --search and Parquet, through the built CLI on
// the real MobileNet 0.25 and real photos with planted variants. Independent readers:
// LanceDB's own API for the Lance dataset, DuckDB for Parquet, sharp for image sizes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { runCli, BIN } from './helpers/cli.js';
import { IMAGES, skipWithoutData } from './helpers/data.js';
import { cacheWithMobilenet025, parseJsonl } from './helpers/cache.js';
import { readNpy } from './helpers/npy.js';
import { plantVariants, VARIANTS } from './helpers/planted.js';
import { keeperOf, transitiveGroups } from '../src/search/dedup.js';

const skip = skipWithoutData();
const require = createRequire(import.meta.url);
const PLANTED = ['cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png', 'apple_red__opencv.jpg'];
const OTHERS = ['rocket_falcon9_launchpad__skimage.jpg', 'mandrill_baboon__opencv.jpg', 'samoyeds_two_under_tree__forensics.jpg'];
let dir = '';
let cache = '';
/** The planted folder: 3 originals + 6 variants each, and 3 unrelated photos. */
let photos = '';
const originals = () => PLANTED.map((f) => path.join(photos, f));
const env = () => ({ BACKBONES_CACHE: cache });

before(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(os.tmpdir(), 'bb-search-'));
  cache = cacheWithMobilenet025();
  photos = path.join(dir, 'photos');
  mkdirSync(photos);
  for (const f of [...PLANTED, ...OTHERS]) copyFileSync(IMAGES(f), path.join(photos, f));
  for (const f of PLANTED) await plantVariants(path.join(photos, f), photos);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every row of a Lance dataset, read with LanceDB itself (not backbones' store code). */
async function readLance(store: string): Promise<{ rows: Record<string, any>[]; metadata: Map<string, string> }> {
  const lancedb = require('@lancedb/lancedb') as typeof import('@lancedb/lancedb');
  const db = await lancedb.connect(path.dirname(store));
  const table = await db.openTable(path.basename(store, '.lance'));
  const rows = (await table.query().toArray()).map((r: Record<string, any>) => ({ ...r, vector: Float32Array.from(r.vector.toArray()) }));
  const metadata = (await table.schema()).metadata;
  table.close();
  return { rows, metadata };
}

/** The file names plantVariants gives a photo's variants. */
const variantNames = (photo: string) => VARIANTS.map((v) => `${path.basename(photo).replace(/\.[^.]+$/, '')}__${v}.${v === 'jpeg30' ? 'jpg' : 'png'}`);
const bits = (v: ArrayLike<number>) => Buffer.from(Float32Array.from(v).buffer).toString('hex');

test('dedup grouping is transitive, and the keeper is the largest image, then the oldest', () => {
  // 0~1 and 1~2 join 0, 1, 2 although 0 and 2 were never paired; 3 is alone; 4~5.
  assert.deepEqual(transitiveGroups(6, [{ a: 0, b: 1, similarity: 0.9 }, { a: 1, b: 2, similarity: 0.9 }, { a: 4, b: 5, similarity: 0.95 }]), [[0, 1, 2], [4, 5]]);
  const img = (p: string, width: number, height: number, mtime: number) => ({ path: p, width, height, bytes: 1, mtime, run: '' });
  assert.equal(keeperOf([img('small', 10, 10, 1), img('big-new', 20, 20, 9), img('big-old', 20, 20, 5)]).path, 'big-old');
});

test('extract --to PATH.lance: one row per image, vectors bit-identical to the .npy, the run spec in the schema', { skip }, async () => {
  const store = path.join(dir, 'photos.lance');
  const npy = path.join(dir, 'photos.npy');
  const [a, b] = await Promise.all([
    runCli(['extract', photos, '-m', 'mobilenet_0.25', '--to', store], { env: env() }),
    runCli(['extract', photos, '-m', 'mobilenet_0.25', '-o', npy], { env: env() }),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.match(a.stderr, /stored 24 vectors in .*photos\.lance \(24 in all; fingerprint [0-9a-f]{16}/);
  const { rows, metadata } = await readLance(store);
  const { data, shape } = readNpy(npy);
  const paths = readFileSync(`${npy}.paths.jsonl`, 'utf8').trim().split('\n').map((l) => path.resolve(JSON.parse(l) as string));
  assert.equal(rows.length, 24);
  assert.deepEqual(shape, [24, 256]);
  for (const row of rows) {
    const i = paths.indexOf(row.path);
    assert.ok(i >= 0, `${row.path} is in the .npy`);
    assert.equal(bits(row.vector), bits(data.subarray(i * 256, (i + 1) * 256)), row.path);
    const meta = await sharp(row.path).metadata();
    assert.deepEqual([row.width, row.height], [meta.width, meta.height]);
    assert.ok(row.bytes > 0 && row.mtime > 0 && /^\d{8}T\d{6}Z-[0-9a-f]{6}$/.test(row.run));
    assert.equal(row.fingerprint, JSON.parse(metadata.get('backbones.spec')!).fingerprint);
  }
  // The store records the same spec as the .npy's FILE.spec.json, and the options that resolve it again.
  const spec = JSON.parse(metadata.get('backbones.spec')!) as { fingerprint: string; fields: Record<string, string> };
  const npySpec = JSON.parse(readFileSync(`${npy}.spec.json`, 'utf8')) as { fingerprint: string; fields: Record<string, string> };
  assert.equal(spec.fingerprint, npySpec.fingerprint);
  assert.deepEqual(spec.fields, npySpec.fields);
  assert.deepEqual([spec.fields.model, spec.fields.layer, spec.fields.pool, spec.fields.l2, spec.fields.preprocess, spec.fields.resize, spec.fields.interpolation], ['mobilenet_0.25', 'global_average_pooling2d_1', 'none', 'false', 'tf', 'squash', 'bilinear']);
  const options = JSON.parse(metadata.get('backbones.spec_options')!) as Record<string, unknown>;
  assert.deepEqual([options.model, options.weights, options.layer, options.precision], ['mobilenet_0.25', 'imagenet', 'global_average_pooling2d_1', 'fp32']);

  // store import of the .npy: the same rows under the same fingerprint, nothing recomputed.
  const imported = path.join(dir, 'imported.lance');
  const imp = await runCli(['store', 'import', npy, '--to', imported, '-m', 'mobilenet_0.25'], { env: env() });
  assert.equal(imp.code, 0, imp.stderr);
  const back = await readLance(imported);
  assert.equal(JSON.parse(back.metadata.get('backbones.spec')!).fingerprint, spec.fingerprint);
  assert.deepEqual(new Map(back.rows.map((r) => [r.path, bits(r.vector)])), new Map(rows.map((r) => [r.path, bits(r.vector)])));
  // The source's FILE.spec.json is checked field by field: a JSONL of another layer is refused.
  const jsonl = path.join(dir, 'one.jsonl');
  const one = await runCli(['extract', originals()[0]!, '-m', 'mobilenet_0.25', '--layer', 'conv_pw_13_relu', '--pool', 'avg', '-o', jsonl], { env: env() });
  assert.equal(one.code, 0, one.stderr);
  const wrong = await runCli(['store', 'import', jsonl, '--to', imported, '-m', 'mobilenet_0.25'], { env: env() });
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /was made differently from what the options say \(layer conv_pw_13_relu → global_average_pooling2d_1; pool avg → none\)/);
  // A file from before the spec was recorded (no sidecar): what its records say is still checked.
  rmSync(`${jsonl}.spec.json`);
  const old = await runCli(['store', 'import', jsonl, '--to', imported, '-m', 'mobilenet_0.25'], { env: env() });
  assert.equal(old.code, 2, old.stderr);
  assert.match(old.stderr, /says its vectors were made with layer conv_pw_13_relu, but the options say global_average_pooling2d_1/);
});

test('search: each photo finds its own 6 variants first; an image file not in the store finds its stored twin', { skip }, async () => {
  const store = path.join(dir, 'photos.lance');
  const r = await runCli(['search', ...originals(), '--in', store, '-k', '6', '--format', 'jsonl'], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /search: exact over 24 vectors/);
  const rows = parseJsonl(r.stdout);
  for (const o of originals()) {
    const mine = rows.filter((x) => x.query === o);
    assert.deepEqual(mine.map((x) => x.rank), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(mine.map((x) => path.basename(x.path)).sort(), variantNames(o).sort(), `${o}: ${JSON.stringify(mine)}`);
    for (const x of mine) assert.ok(Math.abs(x.similarity + x.distance - 1) < 1e-6 && x.similarity <= 1);
    for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.similarity <= mine[i - 1]!.similarity);
  }
  // An image file outside the store is extracted with the store's spec: its twin comes first, identical.
  const outside = path.join(dir, 'query-cat.png');
  copyFileSync(originals()[0]!, outside);
  const q = await runCli(['search', outside, '--in', store, '-k', '1', '--format', 'csv'], { env: env() });
  assert.equal(q.code, 0, q.stderr);
  const [header, line] = q.stdout.trim().split('\n');
  assert.equal(header, 'query,rank,path,similarity,distance');
  assert.equal(line!.split(',')[2], originals()[0]);
  assert.ok(Number(line!.split(',')[3]) > 0.99999);
  const missing = await runCli(['search', path.join(dir, 'nope.jpg'), '--in', store], { env: env() });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.jpg is neither an image file nor a path stored in/);
});

test('dedup --in STORE: the planted groups, transitive, with the largest image as keeper; nothing touched', { skip }, async () => {
  const store = path.join(dir, 'photos.lance');
  const r = await runCli(['dedup', '--in', store, '--format', 'jsonl'], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Threshold 0\.81 \(cosine, from the mobilenet_0\.25 model card\); pairs at or above it are joined transitively/);
  assert.match(r.stderr, /Nothing was deleted or moved/);
  const groups = parseJsonl(r.stdout);
  assert.equal(groups.length, 3, r.stdout);
  for (const o of originals()) {
    const g = groups.find((x) => x.members.some((m: { path: string }) => m.path === o))!;
    assert.deepEqual(g.members.map((m: { path: string }) => path.basename(m.path)).sort(), [path.basename(o), ...variantNames(o)].sort());
    // The keeper: the most pixels (the 5 % border variant), read with sharp.
    const sizes = await Promise.all(g.members.map(async (m: { path: string }) => ({ path: m.path, px: ((await sharp(m.path).metadata()).width ?? 0) * ((await sharp(m.path).metadata()).height ?? 0) })));
    assert.equal(g.keeper, sizes.sort((a, b) => b.px - a.px)[0]!.path);
    assert.equal(g.members.filter((m: { keeper: boolean }) => m.keeper).length, 1);
    for (const p of g.pairs) assert.ok(p.similarity >= 0.81);
  }
  const csv = await runCli(['dedup', '--in', store, '--threshold', '0.99', '--format', 'csv'], { env: env() });
  assert.equal(csv.code, 0, csv.stderr);
  assert.equal(csv.stdout.split('\n')[0], 'group,size,path,keeper,similarity,width,height,bytes,mtime');
  const bad = await runCli(['dedup', '--in', store, '--threshold', '1.5'], { env: env() });
  assert.equal(bad.code, 2);
});

test('a store refuses what would mix: paths already stored without --resume, another spec; --resume adds the rest', { skip }, async () => {
  const store = path.join(dir, 'resume.lance');
  const first = await runCli(['extract', ...originals(), '-m', 'mobilenet_0.25', '--to', store], { env: env() });
  assert.equal(first.code, 0, first.stderr);
  const again = await runCli(['extract', photos, '-m', 'mobilenet_0.25', '--to', store], { env: env() });
  assert.equal(again.code, 2);
  assert.match(again.stderr, /3 of the inputs are already in .*resume\.lance .*pass --resume/);
  const other = await runCli(['extract', photos, '-m', 'mobilenet_0.25', '--l2', '--resume', '--to', store], { env: env() });
  assert.equal(other.code, 2);
  assert.match(other.stderr, /holds vectors made differently \(l2 false → true\)/);
  const rest = await runCli(['extract', photos, '-m', 'mobilenet_0.25', '--resume', '--to', store], { env: env() });
  assert.equal(rest.code, 0, rest.stderr);
  assert.match(rest.stderr, /Resuming: 3 inputs already in the store/);
  const { rows } = await readLance(store);
  assert.equal(rows.length, 24);
  assert.equal(new Set(rows.map((r) => r.path)).size, 24);
});

test('object-store URIs without credentials: one sentence, exit 1, before anything starts (no network)', { skip }, async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'bb-home-'));
  const bare: Record<string, string | undefined> = { ...env(), HOME: home };
  for (const k of Object.keys(process.env)) if (/^(AWS_|GOOGLE_|AZURE_)/.test(k)) bare[k] = undefined;
  for (const [uri, words] of [
    ['s3://bucket/photos.lance', /no S3 credentials are set \(AWS_ACCESS_KEY_ID/],
    ['gs://bucket/photos.lance', /no Google Cloud Storage credentials are set/],
    ['az://container/photos.lance', /no Azure Blob Storage credentials are set/],
  ] as const) {
    const r = await runCli(['extract', originals()[0]!, '-m', 'mobilenet_0.25', '--to', uri], { env: bare });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, words);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const s = await runCli(['search', originals()[0]!, '--in', 's3://bucket/photos.lance'], { env: bare });
  assert.equal(s.code, 1);
  rmSync(home, { recursive: true, force: true });
});

test('Parquet: read back by DuckDB bit-identical to the .npy, fingerprint in the key-value metadata, --resume', { skip }, async () => {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const parquet = path.join(dir, 'photos.parquet');
  const broken = IMAGES('truncated__skimage.jpg');
  const r = await runCli(['extract', photos, broken, '-m', 'mobilenet_0.25', '-o', parquet], { env: env() });
  assert.equal(r.code, 3, r.stderr);
  const db = await (await DuckDBInstance.create(':memory:')).connect();
  const rows = (await db.runAndReadAll(`SELECT path, vector, error FROM '${parquet}'`)).getRowObjectsJS() as { path: string; vector: number[] | null; error: string | null }[];
  const { data } = readNpy(path.join(dir, 'photos.npy'));
  const npyPaths = readFileSync(path.join(dir, 'photos.npy.paths.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string);
  assert.equal(rows.length, 25);
  for (const row of rows) {
    if (row.path === broken) {
      assert.equal(row.vector, null);
      assert.match(row.error!, /damaged or truncated/);
      continue;
    }
    const i = npyPaths.indexOf(row.path);
    assert.ok(i >= 0, row.path);
    assert.equal(row.error, null);
    assert.equal(bits(row.vector!), bits(data.subarray(i * 256, (i + 1) * 256)), row.path);
  }
  const meta = (await db.runAndReadAll(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata('${parquet}')`)).getRowObjectsJS() as { k: string; v: string }[];
  const lance = await readLance(path.join(dir, 'photos.lance'));
  assert.equal(JSON.parse(meta.find((m) => m.k === 'backbones.spec')!.v).fingerprint, JSON.parse(lance.metadata.get('backbones.spec')!).fingerprint);
  // --resume: a file of 3 rows grows to every input once; the failed input is tried again.
  const part = path.join(dir, 'part.parquet');
  assert.equal((await runCli(['extract', ...originals(), '-m', 'mobilenet_0.25', '-o', part], { env: env() })).code, 0);
  const rest = await runCli(['extract', photos, broken, '-m', 'mobilenet_0.25', '-o', part, '--resume'], { env: env() });
  assert.equal(rest.code, 3, rest.stderr);
  assert.match(rest.stderr, /3 skipped \(--resume\)/);
  const counted = (await db.runAndReadAll(`SELECT count(*)::INTEGER AS n, count(DISTINCT path)::INTEGER AS d, count(error)::INTEGER AS e FROM '${part}'`)).getRowObjectsJS()[0] as { n: number; d: number; e: number };
  assert.deepEqual(counted, { n: 25, d: 25, e: 1 });
  // (The failed input is tried again, so there is work to do: a file made differently is refused before it.)
  const l2 = await runCli(['extract', photos, broken, '-m', 'mobilenet_0.25', '--l2', '-o', part, '--resume'], { env: env() });
  assert.equal(l2.code, 2);
  assert.match(l2.stderr, /--resume: .*part\.parquet was made differently \(l2 false → true\)/);
  db.closeSync?.();
});

test('serve --search: POST /v1/search answers the nearest stored images, with the other routes\' limits and metrics', { skip }, async () => {
  const store = path.join(dir, 'photos.lance');
  const child = spawn(process.execPath, [BIN, '--backend', 'onnx', 'serve', '-m', 'mobilenet_0.25', '--port', '0', '--search', store], { env: { ...process.env, ...env(), NO_COLOR: '1' } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const until = async (what: string, ok: () => Promise<boolean>) => {
    for (let i = 0; i < 600; i++) {
      if (await ok().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${what} never happened: ${stderr}`);
  };
  try {
    await until('the listening line', async () => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(stderr));
    const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1]!;
    await until('ready', async () => (await fetch(`${url}/v2/health/ready`)).status === 200);
    const res = await fetch(`${url}/v1/search?k=3&name=cat`, { method: 'POST', body: readFileSync(originals()[0]!), headers: { 'content-type': 'image/png' } });
    assert.equal(res.status, 200);
    const rows = (await res.json()) as { query: string; rank: number; path: string; similarity: number }[];
    assert.deepEqual(rows.map((x) => [x.query, x.rank]), [['cat', 1], ['cat', 2], ['cat', 3]]);
    assert.equal(rows[0]!.path, originals()[0]);
    assert.ok(rows[0]!.similarity > 0.99999);
    const garbage = await fetch(`${url}/v1/search`, { method: 'POST', body: Buffer.from('not an image'), headers: { 'content-type': 'image/jpeg' } });
    assert.equal(garbage.status, 422);
    assert.ok('error' in ((await garbage.json()) as object));
    const badK = await fetch(`${url}/v1/search?k=0`, { method: 'POST', body: readFileSync(originals()[0]!), headers: { 'content-type': 'image/png' } });
    assert.equal(badK.status, 400);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /backbones_http_requests_total\{route="\/v1\/search",method="POST",status="200"\} 1/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  } finally {
    clearTimeout(killer);
    child.kill('SIGKILL');
  }
  // The served model must make the store's vectors: another model is refused before listening.
  const other = await runCli(['serve', '-m', 'mobilenet', '--port', '0', '--search', store], { env: env() });
  assert.equal(other.code, 2);
  assert.match(other.stderr, /holds vectors made differently from what serve would make \(model mobilenet_0\.25 → mobilenet[;)].*; serve with the options that made them\.$/m);
});

test('store index: IVF-PQ and IVF-HNSW-SQ indexes answer like exact search (k above the HNSW candidate list too)', async () => {
  const { LanceStore, lanceTarget } = await import('../src/store/lance.js');
  const base = mkdtempSync(path.join(os.tmpdir(), 'bb-index-'));
  try {
    const synthetic = { record: { fingerprint: 'synthetic', fields: { model: 'synthetic' } }, options: {} };
    const store = await LanceStore.create(lanceTarget(path.join(base, 'idx.lance'), '--to'), synthetic, 16);
    // 20 well-separated clusters of 25 points (deterministic).
    const rows = Array.from({ length: 500 }, (_, i) => ({
      path: `/p/${i}`,
      vector: Float32Array.from({ length: 16 }, (_, j) => (j === i % 16 ? 10 : 0) + (j === (Math.floor(i / 16) % 16) ? 3 : 0) + Math.sin(i * 31 + j) * 0.1),
      width: 1,
      height: 1,
      bytes: 1,
      mtime: 0,
      run: 't',
    }));
    await store.add(rows);
    assert.equal(await store.indexed(), null);
    const exact = await store.search(rows[7]!.vector, 20, { exact: true });
    assert.equal(exact[0]!.path, '/p/7');
    for (const kind of ['ivf-pq', 'ivf-hnsw-sq'] as const) {
      await store.createIndex(kind);
      assert.ok(await store.indexed(), kind);
      const ann = await store.search(rows[7]!.vector, 20);
      assert.equal(ann.length, 20, kind);
      assert.equal(ann[0]!.path, '/p/7', kind);
      const overlap = ann.filter((a) => exact.some((e) => e.path === a.path)).length;
      assert.ok(overlap >= 18, `${kind}: ${overlap} of 20 exact neighbours`);
    }
    store.close();
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
