// `backbones serve` against real servers on 127.0.0.1 (random ports) with the real
// MobileNet v1 0.25 and real photos: answers equal the CLI's, KServe v2, readiness,
// backpressure, limits, bad images, API key, metrics, and a SIGTERM drain of the
// built CLI. Every wait is a bounded poll; nothing asserts on time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { runCli, BIN } from './helpers/cli.js';
import { IMAGES } from './helpers/data.js';
import { parseJsonl } from './helpers/cache.js';
import { loadImageForModel } from '../src/images/index.js';
import type { Loaded } from '../src/serve/service.js';
import { assertClose, cache, form, loadInThread, loadShared, metric, photo, post, serve, skip, until } from './helpers/serve.js';

const PHOTOS = ['cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png', 'mandrill_baboon__opencv.jpg'];
const TRUNCATED = 'truncated__skimage.jpg';

test('classify and extract answer the records the CLI writes for the same photos', { skip }, async () => {
  const { url, started } = await serve({ load: loadInThread });
  await started;
  const env = { BACKBONES_CACHE: cache };
  const [cli, cliExtract] = await Promise.all([
    runCli(['--backend', 'onnx', 'classify', ...PHOTOS.map(IMAGES), '-m', 'mobilenet_0.25', '-k', '3', '-f', 'jsonl'], { env }),
    runCli(['--backend', 'onnx', 'extract', ...PHOTOS.map(IMAGES), '-m', 'mobilenet_0.25', '--layer', 'conv_pw_13_relu', '--pool', 'avg', '--l2'], { env }),
  ]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cliExtract.code, 0, cliExtract.stderr);
  const expected = parseJsonl(cli.stdout);
  const expectedVectors = parseJsonl(cliExtract.stdout);

  // One image per request, sent together so the server batches them.
  const singles = await Promise.all(PHOTOS.map((n) => post(`${url}/v1/classify?k=3&name=${n}`, photo(n), n.endsWith('.png') ? 'image/png' : 'image/jpeg')));
  for (const [i, r] of singles.entries()) {
    assert.equal(r.status, 200);
    const got = await r.json();
    assert.equal(got.path, PHOTOS[i]);
    assert.equal(got.model, 'mobilenet_0.25');
    assert.deepEqual(got.predictions.map((p: any) => [p.index, p.label, p.wnid]), expected[i]!.predictions.map((p: any) => [p.index, p.label, p.wnid]));
    assertClose(got.predictions.map((p: any) => p.prob), expected[i]!.predictions.map((p: any) => p.prob), 1e-6, PHOTOS[i]!);
  }
  assert.equal(expected[1]!.predictions[0].label, 'espresso');

  // Multipart: a list in part order.
  const multi = await post(`${url}/v1/extract?layer=conv_pw_13_relu&pool=avg&l2=true`, form(PHOTOS));
  assert.equal(multi.status, 200);
  const records = await multi.json();
  assert.deepEqual(records.map((r: any) => r.path), PHOTOS);
  for (const [i, r] of records.entries()) {
    assert.equal(r.layer, 'conv_pw_13_relu');
    assert.deepEqual(r.shape, expectedVectors[i]!.shape);
    assertClose(r.vector, expectedVectors[i]!.vector, 1e-5, `vector ${PHOTOS[i]}`);
  }
  // The default layer (the card's) as application/octet-stream.
  const def = await (await post(`${url}/v1/extract`, photo(PHOTOS[0]!), 'application/octet-stream')).json();
  assert.equal(def.layer, 'global_average_pooling2d_1');
  assert.equal(def.vector.length, 256);
});

test('decoding: decode threads and the main thread answer byte-identically; --decode fast equals the CLI; stage times in /metrics', { skip }, async () => {
  const BIG = 'colorful_cups__plasma_ColorfulCups.jpg'; // 2560x1600: fast decoding shrinks it on load
  const names = [...PHOTOS, BIG];
  const env = { BACKBONES_CACHE: cache };
  const extractArgs = ['--backend', 'onnx', 'extract', ...names.map(IMAGES), '-m', 'mobilenet_0.25', '--layer', 'conv_pw_13_relu', '--pool', 'avg'];
  const cliFast = await runCli([...extractArgs, '--decode', 'fast'], { env });
  assert.equal(cliFast.code, 0, cliFast.stderr);
  const fastVectors = parseJsonl(cliFast.stdout);

  const loadFast = async (): Promise<Loaded> => {
    const { inference, settings } = await loadShared();
    return { inference, settings: { ...settings, decode: 'fast' } };
  };
  const servers = await Promise.all([serve({ decodeThreads: 0 }), serve({ decodeThreads: 1 }), serve({ load: loadFast })]);
  await Promise.all(servers.map((s) => s.started));
  const ask = (url: string) =>
    Promise.all(names.map(async (n) => (await (await post(`${url}/v1/extract?layer=conv_pw_13_relu&pool=avg`, photo(n), 'application/octet-stream')).json()).vector as number[]));
  const [mainThread, oneThread, fast] = await Promise.all(servers.map((s) => ask(s.url)));
  assert.deepEqual(oneThread, mainThread);
  for (const [i, v] of fast.entries()) assertClose(v, fastVectors[i]!.vector, 1e-5, `fast ${names[i]}`);
  // fast really shrank the big photo on load: its vector moved, the small ones did not.
  assert.ok(fast[3]!.some((x, j) => Math.abs(x - oneThread[3]![j]!) > 1e-4), 'fast decoding changed nothing for a 2560x1600 JPEG');
  assertClose(fast[2]!, oneThread[2]!, 1e-6, 'fast on a 512x512 JPEG');
  // The same contradiction the CLI refuses: bad usage before anything listens.
  const bad = await runCli(['serve', '-m', 'mobilenet_0.25', '--port', '0', '--decode', 'fast', '--keras-compat'], { env });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--decode fast cannot be combined with --keras-compat/);
  for (const s of servers) {
    assert.equal(await metric(s.url, 'backbones_decode_stage_seconds_count', 'stage="decode"'), names.length);
    assert.equal(await metric(s.url, 'backbones_decode_stage_seconds_count', 'stage="resize"'), names.length);
  }
});

test('KServe v2: health, metadata, and infer with an FP32 tensor and with BYTES give the same probabilities', { skip }, async () => {
  const { url, started } = await serve();
  await started;
  assert.deepEqual(await (await fetch(`${url}/v2/health/live`)).json(), { live: true });
  assert.deepEqual(await (await fetch(`${url}/v2/health/ready`)).json(), { ready: true });
  const meta = await (await fetch(`${url}/v2/models/mobilenet_0.25`)).json();
  assert.deepEqual(meta.inputs[0].shape, [-1, 224, 224, 3]);
  assert.deepEqual(meta.outputs[0], { name: 'probabilities', datatype: 'FP32', shape: [-1, 1000] });
  assert.equal((await fetch(`${url}/v2/models/vgg16`)).status, 404);

  const { settings } = await loadShared();
  const names = PHOTOS.slice(0, 2);
  const rows = await Promise.all(names.map(async (n) => (await loadImageForModel(IMAGES(n), settings)).input));
  const fp32 = { id: 'a', inputs: [{ name: 'input', shape: [2, 224, 224, 3], datatype: 'FP32', data: rows.flatMap((r) => Array.from(r)) }] };
  const bytes = { inputs: [{ name: 'images', shape: [2], datatype: 'BYTES', data: names.map((n) => photo(n).toString('base64')) }], outputs: [{ name: 'probabilities' }, { name: 'global_average_pooling2d_1' }] };
  const [a, b] = await Promise.all([post(`${url}/v2/models/mobilenet_0.25/infer`, JSON.stringify(fp32), 'application/json'), post(`${url}/v2/models/mobilenet_0.25/infer`, JSON.stringify(bytes), 'application/json')]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  const ja = await a.json();
  const jb = await b.json();
  assert.equal(ja.id, 'a');
  assert.equal(ja.model_name, 'mobilenet_0.25');
  assert.deepEqual(ja.outputs[0].shape, [2, 1000]);
  assert.deepEqual(jb.outputs.map((o: any) => [o.name, o.shape]), [['probabilities', [2, 1000]], ['global_average_pooling2d_1', [2, 256]]]);
  assertClose(ja.outputs[0].data, jb.outputs[0].data, 1e-6, 'FP32 vs BYTES');
  const argmax = (xs: number[]) => xs.indexOf(Math.max(...xs));
  assert.equal(argmax(ja.outputs[0].data.slice(1000, 2000)), 967, 'espresso');

  const wrongShape = await post(`${url}/v2/models/mobilenet_0.25/infer`, JSON.stringify({ inputs: [{ name: 'input', shape: [1, 10, 10, 3], datatype: 'FP32', data: new Array(300).fill(0) }] }), 'application/json');
  assert.equal(wrongShape.status, 400);
  assert.match((await wrongShape.json()).error, /must have shape \[n, 224, 224, 3\]/);
  const badImage = await post(`${url}/v2/models/mobilenet_0.25/infer`, JSON.stringify({ inputs: [{ name: 'images', shape: [1], datatype: 'BYTES', data: [Buffer.from('not an image').toString('base64')] }] }), 'application/json');
  assert.equal(badImage.status, 422);
  assert.match((await badImage.json()).error, /^Image 0 of "images": /);
});

test('before the model is ready: live at once, ready and inference 503 with Retry-After; then 200', { skip }, async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { url, started } = await serve({ load: async () => (await gate, loadShared()) });
  assert.equal((await fetch(`${url}/v2/health/live`)).status, 200);
  const ready = await fetch(`${url}/v2/health/ready`);
  assert.equal(ready.status, 503);
  assert.equal(ready.headers.get('retry-after'), '2');
  const early = await post(`${url}/v1/classify`, photo(PHOTOS[0]!), 'image/png');
  assert.equal(early.status, 503);
  assert.ok(Number(early.headers.get('retry-after')) > 0);
  assert.match((await early.json()).error, /still loading/);
  assert.equal((await fetch(`${url}/v2/models/mobilenet_0.25`)).status, 503);
  release();
  await started;
  assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
  assert.equal((await post(`${url}/v1/classify`, photo(PHOTOS[0]!), 'image/png')).status, 200);
});

test('a full queue answers 503 with Retry-After at once; a request past --timeout-ms gets 504 and leaves the queue', { skip }, async () => {
  // Batches never fill and the delay is long: admitted images wait until their deadline.
  const { url, started } = await serve({ maxQueue: 2, maxBatch: 64, maxDelayMs: 600_000, timeoutMs: 1500 });
  await started;
  const waiting = post(`${url}/v1/classify`, form(PHOTOS.slice(0, 2)));
  await until('2 images in flight', async () => (await metric(url, 'backbones_images_in_flight')) === 2);
  const refused = await post(`${url}/v1/classify`, photo(PHOTOS[2]!), 'image/jpeg');
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get('retry-after'), '1');
  assert.match((await refused.json()).error, /at capacity/);
  const timedOut = await waiting;
  assert.equal(timedOut.status, 504);
  assert.match((await timedOut.json()).error, /within 1500 ms/);
  assert.equal(await metric(url, 'backbones_queue_depth'), 0, 'timed-out images left the queue');
  assert.equal(await metric(url, 'backbones_images_in_flight'), 0);
  assert.equal(await metric(url, 'backbones_rejected_total', 'reason="queue-full"'), 1);
  // More images in one request than the queue holds: 413, not a wait.
  assert.equal((await post(`${url}/v1/classify`, form(PHOTOS))).status, 413);
});

test('a client that hangs up takes its image out of the queue', { skip }, async () => {
  const { url, started } = await serve({ maxBatch: 64, maxDelayMs: 600_000 });
  await started;
  const abort = new AbortController();
  const stays = new AbortController();
  const staying = fetch(`${url}/v1/classify`, { method: 'POST', body: photo(PHOTOS[0]!), headers: { 'content-type': 'image/png' }, signal: stays.signal }).catch((e: Error) => e.name);
  const leaving = fetch(`${url}/v1/classify`, { method: 'POST', body: photo(PHOTOS[1]!), headers: { 'content-type': 'image/png' }, signal: abort.signal }).catch((e: Error) => e.name);
  await until('2 images queued', async () => (await metric(url, 'backbones_queue_depth')) === 2);
  abort.abort();
  assert.equal(await leaving, 'AbortError');
  await until('the abandoned image left the queue', async () => (await metric(url, 'backbones_queue_depth')) === 1);
  assert.equal(await metric(url, 'backbones_images_in_flight'), 1);
  stays.abort();
  assert.equal(await staying, 'AbortError');
  await until('the queue is empty', async () => (await metric(url, 'backbones_queue_depth')) === 0);
});

/** A real JPEG whose header claims 60000 x 60000 pixels. */
function hugeDeclaredJpeg(): Buffer {
  const b = Buffer.from(photo('apple_red__opencv.jpg'));
  for (let i = 2; i < b.length - 9; ) {
    if (b[i] !== 0xff) break;
    const marker = b[i + 1]!;
    if (marker >= 0xc0 && marker <= 0xc2) {
      b.writeUInt16BE(60000, i + 5);
      b.writeUInt16BE(60000, i + 7);
      return b;
    }
    i += 2 + b.readUInt16BE(i + 2);
  }
  throw new Error('no SOF marker');
}

test('limits and bad bodies: 413, 415, 422 for garbage, truncated, empty and huge-declared images, each a JSON sentence', { skip }, async () => {
  const { url, started } = await serve({ maxBodyBytes: 64 * 1024 });
  await started;
  const cases: [string, Promise<Response>, number, RegExp][] = [
    ['too large', post(`${url}/v1/classify`, photo('mandrill_baboon__opencv.jpg'), 'image/jpeg'), 413, /larger than this server's limit of 0\.1 MB/],
    ['too large multipart', post(`${url}/v1/classify`, form(['mandrill_baboon__opencv.jpg'])), 413, /larger than/],
    ['multipart over the limit in total', post(`${url}/v1/classify`, form(['speakers_stage_16bit__goximage_video001.tiff', 'horse_black__wx.tif'])), 413, /larger than/],
    ['text', post(`${url}/v1/classify`, 'hello', 'text/plain'), 415, /^Send image\/\*/],
    ['unknown type', post(`${url}/v1/classify`, 'hello', 'application/x-foo'), 415, /Unsupported Content-Type/],
    ['garbage', post(`${url}/v1/classify`, Buffer.from('GIF89a but not really an image at all'), 'image/gif'), 422, /Cannot decode the image/],
    ['truncated', post(`${url}/v1/classify`, photo(TRUNCATED), 'image/jpeg'), 422, /truncated/],
    ['empty', post(`${url}/v1/classify`, Buffer.alloc(0), 'image/jpeg'), 422, /empty/],
    ['huge', post(`${url}/v1/classify`, hugeDeclaredJpeg(), 'image/jpeg'), 422, /60000x60000 = 3600000000 pixels exceeds the limit of 40000000/],
    ['bad k', post(`${url}/v1/classify?k=0`, photo('apple_red__opencv.jpg'), 'image/jpeg'), 400, /Invalid querystring/],
    ['bad layer', post(`${url}/v1/extract?layer=nope`, photo('apple_red__opencv.jpg'), 'image/jpeg'), 400, /no layer "nope"/],
    ['bad JSON', post(`${url}/v2/models/mobilenet_0.25/infer`, '{', 'application/json'), 400, /not valid JSON/],
  ];
  for (const [what, pending, status, message] of cases) {
    const r = await pending;
    assert.equal(r.status, status, what);
    assert.match(r.headers.get('content-type') ?? '', /application\/json/, what);
    const body = await r.json();
    assert.deepEqual(Object.keys(body), ['error'], what);
    assert.match(body.error, message, what);
  }
  const notFound = await fetch(`${url}/v1/nothing`);
  assert.equal(notFound.status, 404);
  assert.match((await notFound.json()).error, /No route GET \/v1\/nothing/);
});

test('good and bad images in one batch: only the good ones are inferred, each bad one fails alone', { skip }, async () => {
  // The batch runs exactly when 3 decoded images wait: the 3 good ones, whatever the bad ones do.
  const { url, started } = await serve({ maxBatch: 3, maxDelayMs: 600_000 });
  await started;
  const before = await metric(url, 'backbones_batch_size_count');
  const responses = await Promise.all([
    post(`${url}/v1/classify?k=1`, photo(PHOTOS[0]!), 'image/png'),
    post(`${url}/v1/classify?k=1`, photo(TRUNCATED), 'image/jpeg'),
    post(`${url}/v1/classify?k=1`, photo(PHOTOS[1]!), 'image/png'),
    post(`${url}/v1/classify?k=1`, Buffer.from('garbage'), 'image/jpeg'),
    post(`${url}/v1/classify?k=1`, form(['coffee_espresso_cup__skimage.png', TRUNCATED].reverse())),
  ]);
  assert.deepEqual(responses.map((r) => r.status), [200, 422, 200, 422, 200]);
  const [cat, , coffee, , mixed] = await Promise.all(responses.map((r) => r.json()));
  assert.equal(cat.predictions[0].index, 285);
  assert.equal(coffee.predictions[0].label, 'espresso');
  assert.equal(mixed[0].path, TRUNCATED);
  assert.equal(mixed[0].status, 422);
  assert.match(mixed[0].error, /truncated/);
  assert.equal(mixed[1].predictions[0].label, 'espresso');
  assert.equal((await metric(url, 'backbones_batch_size_count')) - before, 1, 'one batch');
  assert.equal(await metric(url, 'backbones_batch_size_sum'), 3, 'of the three good images');
});

test('--api-key: Bearer required on everything but health', { skip }, async () => {
  const { url, started } = await serve({ apiKey: 's3cret' });
  await started;
  assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
  const none = await post(`${url}/v1/classify`, photo(PHOTOS[0]!), 'image/png');
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Bearer');
  assert.match((await none.json()).error, /API key/);
  assert.equal((await post(`${url}/v1/classify`, photo(PHOTOS[0]!), 'image/png', { authorization: 'Bearer wrong' })).status, 401);
  assert.equal((await fetch(`${url}/metrics`)).status, 401);
  assert.equal((await fetch(`${url}/v2/models/mobilenet_0.25`)).status, 401);
  assert.equal((await post(`${url}/v1/classify`, photo(PHOTOS[0]!), 'image/png', { authorization: 'Bearer s3cret' })).status, 200);
});

test('/metrics: requests by route and status, latency, queue depth, batch sizes, inference time, images/s', { skip }, async () => {
  const { url, started } = await serve();
  await started;
  await Promise.all([post(`${url}/v1/classify`, photo(PHOTOS[0]!), 'image/png'), post(`${url}/v1/classify`, Buffer.from('x'), 'image/png')]);
  const r = await fetch(`${url}/metrics`);
  assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
  const text = await r.text();
  assert.match(text, /backbones_http_requests_total\{route="\/v1\/classify",method="POST",status="200"\} 1/);
  assert.match(text, /backbones_http_requests_total\{route="\/v1\/classify",method="POST",status="422"\} 1/);
  for (const name of ['backbones_http_request_duration_seconds_bucket', 'backbones_queue_depth', 'backbones_batch_size_bucket', 'backbones_inference_seconds_bucket', 'backbones_images_per_second', 'backbones_images_inferred_total 1']) {
    assert.ok(text.includes(name), name);
  }
  assert.ok((await metric(url, 'backbones_images_per_second')) > 0);
});

test('the built CLI: serve on a random port, SIGTERM finishes the queued requests and exits 0', { skip }, async () => {
  const child = spawn(process.execPath, [BIN, '--backend', 'onnx', 'serve', '-m', 'mobilenet_0.25', '--port', '0', '--max-batch', '8', '--max-delay-ms', '600000', '--grace-ms', '60000'], {
    env: { ...process.env, BACKBONES_CACHE: cache, NO_COLOR: '1' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  try {
    await until('the listening line', async () => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(stderr));
    assert.doesNotMatch(stderr, /Error/);
    const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1]!;
    await until('ready', async () => (await fetch(`${url}/v2/health/ready`)).status === 200);
    // Two requests wait in the queue (the batch is not full and the delay is long) when SIGTERM comes.
    const inFlight = PHOTOS.slice(0, 2).map((n) => post(`${url}/v1/classify?k=1`, photo(n), 'image/png'));
    await until('2 images queued', async () => (await metric(url, 'backbones_queue_depth')) === 2);
    child.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    assert.deepEqual(answers.map((r) => r.status), [200, 200]);
    assert.equal((await answers[1]!.json()).predictions[0].label, 'espresso');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM: no new requests/);
    assert.match(stderr, /stopped\.\n/, 'drained before the grace period ran out');
    const lines = stderr.split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.some((l) => JSON.parse(l).res?.statusCode === 200), 'JSON access log lines on stderr');
  } finally {
    clearTimeout(killer);
    child.kill('SIGKILL');
  }
});
