// Downloads against a local HTTP server on 127.0.0.1 (no internet needed), the cache
// layout, and the progress display.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { tf } from '../src/tf.js';
import { cachedPath, cachedTfjsDir, isCached, resolveCacheDir } from '../src/weights/cache.js';
import { downloadFile, downloadTfjsModel, progressReporter } from '../src/weights/download.js';
import { WeightsError } from '../src/weights/errors.js';
import { readTfjsLayersWeights } from '../src/weights/tfjs.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

let dir: string;
let server: http.Server;
let base: string;
const files = new Map<string, Buffer>();
const BODY = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
files.set('/files/weights.h5', BODY);

/** Serves `files` in three pieces; /half/* dies mid-body; /stall/* stops sending; others 404. */
function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '/';
  if (url.startsWith('/half/')) {
    res.writeHead(200, { 'content-length': BODY.length });
    res.write(BODY.subarray(0, BODY.length / 2), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  if (url.startsWith('/stall/')) {
    res.writeHead(200, { 'content-length': BODY.length });
    res.write(BODY.subarray(0, 1000));
    return; // never ends; the client's idle timeout must fire
  }
  const body = files.get(url);
  if (!body) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return;
  }
  res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
  const third = Math.ceil(body.length / 3);
  res.write(body.subarray(0, third));
  setTimeout(() => {
    res.write(body.subarray(third, 2 * third));
    setTimeout(() => res.end(body.subarray(2 * third)), 5);
  }, 5);
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'backbones-download-'));
  server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** Entries of a folder that look like our temp files or folders. */
async function leftovers(folder: string): Promise<string[]> {
  if (!existsSync(folder)) return [];
  return (await readdir(folder)).filter((n) => n.includes('.part-') || n.includes('.old-'));
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('downloadFile', () => {
  test('downloads, reports progress, verifies sha256 and leaves only the file', async () => {
    const dest = path.join(dir, 'ok', 'vgg16', 'weights.h5');
    const seen: [number, number | undefined][] = [];
    const result = await downloadFile(`${base}/files/weights.h5`, dest, {
      hash: sha256(BODY),
      hashAlgorithm: 'sha256',
      onProgress: (r, t) => seen.push([r, t]),
    });
    assert.deepEqual(await readFile(dest), BODY);
    assert.equal(result.bytes, BODY.length);
    assert.equal(result.digest, sha256(BODY));
    assert.deepEqual(seen[0], [0, BODY.length]);
    assert.deepEqual(seen.at(-1), [BODY.length, BODY.length]);
    assert.ok(seen.length >= 3, 'several progress callbacks');
    assert.ok(seen.every(([r], i) => i === 0 || r >= seen[i - 1][0]), 'monotonic');
    assert.deepEqual(await readdir(path.dirname(dest)), ['weights.h5']);
  });

  test('md5 hashes (Keras applications publish md5) are recognised by length', async () => {
    const dest = path.join(dir, 'md5', 'w.h5');
    const result = await downloadFile(`${base}/files/weights.h5`, dest, { hash: md5(BODY).toUpperCase(), hashAlgorithm: null });
    assert.equal(result.hashAlgorithm, 'md5');
    assert.ok(existsSync(dest));
  });

  test('checksum mismatch: WeightsError, and neither the file nor a .part file is left', async () => {
    const folder = path.join(dir, 'mismatch');
    const dest = path.join(folder, 'weights.h5');
    const wrong = '0'.repeat(64);
    await assert.rejects(downloadFile(`${base}/files/weights.h5`, dest, { hash: wrong, hashAlgorithm: 'sha256' }), (e: Error) => {
      assert.ok(e instanceof WeightsError);
      assert.equal(e.message, `Checksum mismatch for ${base}/files/weights.h5: expected ${wrong}, got ${sha256(BODY)}`);
      return true;
    });
    assert.equal(existsSync(folder), false, 'no file, and not the folder the download created');
  });

  test('server closes the connection mid-body: error, no partial file', async () => {
    const folder = path.join(dir, 'half');
    const dest = path.join(folder, 'weights.h5');
    await assert.rejects(downloadFile(`${base}/half/weights.h5`, dest, { hash: sha256(BODY) }), (e: Error) => {
      assert.ok(e instanceof WeightsError);
      assert.match(e.message, /interrupted/);
      return true;
    });
    assert.equal(existsSync(folder), false);
  });

  test('no data for idleTimeoutMs: stalled error, no partial file', async () => {
    const folder = path.join(dir, 'stall');
    await assert.rejects(downloadFile(`${base}/stall/w.h5`, path.join(folder, 'w.h5'), { idleTimeoutMs: 300 }), /stalled: no data for 0.3 s/);
    assert.equal(existsSync(folder), false);
  });

  test('HTTP 404 is a WeightsError naming the status and URL', async () => {
    const folder = path.join(dir, 'notfound');
    await assert.rejects(downloadFile(`${base}/nope.h5`, path.join(folder, 'nope.h5')), (e: Error) => e instanceof WeightsError && e.message === `HTTP 404 Not Found for ${base}/nope.h5.`);
    assert.equal(existsSync(folder), false);
  });

  test('connection refused (offline): one sentence saying how to fix it', async () => {
    const port = await closedPort();
    const dest = path.join(dir, 'offline', 'vgg16', 'vgg16_weights.h5');
    const url = `http://127.0.0.1:${port}/vgg16_weights.h5`;
    await assert.rejects(downloadFile(url, dest, { modelName: 'vgg16', cachePath: dest }), (e: Error) => {
      assert.ok(e instanceof WeightsError);
      assert.equal(
        e.message,
        `Could not download ${url} (connection refused); run \`backbones models pull vgg16\` on a machine with internet, copy the file to ${dest}, or pass --weights PATH.`,
      );
      return true;
    });
    assert.deepEqual(await leftovers(path.dirname(dest)), []);
    assert.ok(!existsSync(dest));
  });

  test('an aborted signal cancels the download and cleans up', async () => {
    const folder = path.join(dir, 'abort');
    const ctrl = new AbortController();
    const p = downloadFile(`${base}/stall/w.h5`, path.join(folder, 'w.h5'), { signal: ctrl.signal, idleTimeoutMs: 10_000 });
    setTimeout(() => ctrl.abort(new Error('user cancelled')), 100);
    await assert.rejects(p, /user cancelled/);
    assert.equal(existsSync(folder), false);
  });
});

describe('downloadTfjsModel', () => {
  let modelJson: Buffer;
  let shardNames: string[];
  let reference: tf.Tensor[];

  before(async () => {
    await tf.setBackend('cpu');
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ name: 'fc1', inputShape: [3], units: 4 }),
        tf.layers.dense({ name: 'predictions', units: 2 }),
      ],
    });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    // Twelve shards: more than Node's 10-listener warning threshold for one AbortSignal.
    const data = Buffer.from(tf.io.concatenateArrayBuffers(artifacts!.weightData as ArrayBuffer));
    const n = 12;
    const size = Math.ceil(data.length / n);
    const shards = Array.from({ length: n }, (_, i) => [`group1-shard${i + 1}of${n}`, data.subarray(i * size, (i + 1) * size)] as const);
    shardNames = shards.map(([name]) => name);
    modelJson = Buffer.from(
      JSON.stringify({
        format: 'layers-model',
        modelTopology: artifacts!.modelTopology,
        weightsManifest: [{ paths: shardNames, weights: artifacts!.weightSpecs }],
      }),
    );
    for (const prefix of ['/model/', '/broken/']) {
      files.set(`${prefix}model.json`, modelJson);
      for (const [name, bytes] of shards) files.set(`${prefix}${name}`, bytes);
    }
    files.delete(`/broken/${shardNames[7]}`); // 404
    const evil = JSON.parse(modelJson.toString());
    evil.weightsManifest[0].paths = ['group1-shard1of12', '../../escape'];
    files.set('/evil/model.json', Buffer.from(JSON.stringify(evil)));
    files.set('/evil/group1-shard1of12', shards[0][1]);
    reference = model.layers.flatMap((l) => l.getWeights().map((t) => t.clone()));
    model.dispose();
  });
  after(() => tf.dispose(reference));

  test('downloads model.json (hash checked) and every shard; the folder appears whole', async () => {
    const cacheDir = path.join(dir, 'cache');
    const source = { format: 'tfjs-layers' as const, fileName: 'tiny' };
    const dest = cachedTfjsDir('tiny_model', source, cacheDir);
    assert.equal(await isCached('tiny_model', source, cacheDir), false);
    const seen: [number, number | undefined][] = [];
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const result = await downloadTfjsModel(`${base}/model/model.json`, dest, {
      hash: sha256(modelJson),
      onProgress: (r, t) => seen.push([r, t]),
    });
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    assert.deepEqual(warnings.map((w) => w.name), [], 'no MaxListenersExceededWarning');
    assert.deepEqual(result.files, ['model.json', ...shardNames]);
    assert.deepEqual((await readdir(dest)).sort(), ['model.json', ...shardNames].sort());
    assert.equal(result.modelJson, cachedPath('tiny_model', source, cacheDir));
    assert.equal(await isCached('tiny_model', source, cacheDir), true);
    assert.deepEqual(await leftovers(path.dirname(dest)), []);
    const [received, total] = seen.at(-1)!;
    assert.equal(received, total, 'total = model.json + manifest weight bytes');
    assert.ok(seen.every(([, t]) => t === total), 'the total is known from the first callback on');

    const read = await readTfjsLayersWeights(result.modelJson);
    assert.deepEqual(read.layers.map((l) => l.name), ['fc1', 'predictions']);
    const flat = read.layers.flatMap((l) => l.weights);
    flat.forEach((w, i) => assert.deepEqual(w.data, reference[i].dataSync()));

    // A second download replaces the folder (a stray file in the old one disappears).
    await writeFile(path.join(dest, 'stale.bin'), 'x');
    await downloadTfjsModel(`${base}/model/`, dest, { hash: sha256(modelJson) });
    assert.deepEqual((await readdir(dest)).sort(), ['model.json', ...shardNames].sort());
    assert.deepEqual(await leftovers(path.dirname(dest)), []);

    // One shard gone from the cache: not cached any more.
    await rm(path.join(dest, shardNames[5]));
    assert.equal(await isCached('tiny_model', source, cacheDir), false);
  });

  test('a missing shard fails the whole download: nothing is left', async () => {
    const parent = path.join(dir, 'broken-cache', 'tiny');
    const dest = path.join(parent, 'model');
    await assert.rejects(downloadTfjsModel(`${base}/broken/model.json`, dest, {}), (e: Error) => e instanceof WeightsError && /HTTP 404/.test(e.message));
    assert.ok(!existsSync(dest));
    assert.deepEqual(await leftovers(parent), []);
  });

  test('a wrong model.json hash fails before any shard is fetched', async () => {
    const parent = path.join(dir, 'badhash');
    await assert.rejects(downloadTfjsModel(`${base}/model/model.json`, path.join(parent, 'm'), { hash: 'f'.repeat(64) }), /Checksum mismatch/);
    assert.deepEqual(await leftovers(parent), []);
    assert.ok(!existsSync(path.join(parent, 'm')));
  });

  test('shard paths escaping the folder are refused', async () => {
    const parent = path.join(dir, 'evil');
    await assert.rejects(downloadTfjsModel(`${base}/evil/model.json`, path.join(parent, 'm')), /outside its folder/);
    assert.deepEqual(await leftovers(parent), []);
    assert.ok(!existsSync(path.join(dir, 'escape')));
  });
});

describe('cache', () => {
  test('resolveCacheDir: flag, then BACKBONES_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
    const env = { BACKBONES_CACHE: '/env/cache', XDG_CACHE_HOME: '/xdg' };
    assert.equal(resolveCacheDir('/flag/dir', env), '/flag/dir');
    assert.equal(resolveCacheDir(undefined, env), '/env/cache');
    assert.equal(resolveCacheDir(undefined, { XDG_CACHE_HOME: '/xdg' }), '/xdg/backbones');
    assert.equal(resolveCacheDir(undefined, {}), path.join(os.homedir(), '.cache', 'backbones'));
    assert.equal(resolveCacheDir('rel', {}), path.resolve('rel'));
  });

  test('cachedPath / isCached for an .h5 source; names cannot leave the cache', async () => {
    const cacheDir = path.join(dir, 'h5cache');
    const source = { format: 'keras-h5' as const, fileName: 'vgg16_weights_tf_dim_ordering_tf_kernels.h5' };
    const p = cachedPath('vgg16', source, cacheDir);
    assert.equal(p, path.join(cacheDir, 'vgg16', source.fileName));
    assert.equal(await isCached('vgg16', source, cacheDir), false);
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, 'x');
    assert.equal(await isCached('vgg16', source, cacheDir), true);
    assert.throws(() => cachedPath('../etc', source, cacheDir), WeightsError);
    assert.throws(() => cachedPath('vgg16', { ...source, fileName: 'a/../../b' }, cacheDir), WeightsError);
  });
});

describe('progressReporter', () => {
  function sink(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
    let out = '';
    const w = new Writable({
      write(chunk, _enc, cb) {
        out += String(chunk);
        cb();
      },
    }) as unknown as NodeJS.WriteStream;
    Object.assign(w, { isTTY, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    return { stream: w, text: () => out };
  }

  test('plain lines on a non-terminal, at about 25 % steps', () => {
    const { stream, text } = sink(false);
    const p = progressReporter('vgg16', { stream });
    const MB = 1024 * 1024;
    for (const r of [0, 1, 1.5, 2.5, 4]) p.onProgress(r * MB, 4 * MB);
    p.stop();
    const lines = text().trim().split('\n');
    assert.equal(lines[0], 'Downloading vgg16 (4.0 MB)');
    assert.deepEqual(lines.slice(1, -1), ['  vgg16: 1.0/4.0 MB (25%)', '  vgg16: 2.5/4.0 MB (62%)']);
    assert.match(lines.at(-1)!, /^Downloaded vgg16 \(4\.0 MB in \d+\.\d s\)$/);
  });

  test('a download that never started prints no closing line', () => {
    const { stream, text } = sink(false);
    progressReporter('vgg16', { stream }).stop(false);
    assert.equal(text(), '');
  });

  test('quiet prints nothing; a terminal gets a cli-progress bar', () => {
    const quiet = sink(false);
    const q = progressReporter('vgg16', { quiet: true, stream: quiet.stream });
    q.onProgress(0, 10);
    q.onProgress(10, 10);
    q.stop();
    assert.equal(quiet.text(), '');

    const tty = sink(true);
    const t = progressReporter('vgg16', { stream: tty.stream });
    t.onProgress(0, 2 * 1024 * 1024);
    t.onProgress(2 * 1024 * 1024, 2 * 1024 * 1024);
    t.stop();
    assert.match(tty.text(), /vgg16 \[.*\] 100% \| 2\.0\/2\.0 MB/);
  });
});
