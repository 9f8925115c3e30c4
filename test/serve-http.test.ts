// HTTP manners of `serve` toward clients still uploading: a request refused before
// its body is read (401, 415, 503 at capacity) is answered to a client that writes
// its whole body first and reads afterwards (Python's urllib, with Connection: close)
// without a reset; "Expect: 100-continue" clients are refused instead of being told to
// upload; SIGTERM with many uploads in flight answers each one (200 or 503); a port in
// use is an environment error. Real sockets on 127.0.0.1, the real model and photos;
// every wait is a bounded poll.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { BIN, runCli } from './helpers/cli.js';
import { exchange, requestBytes, type RawAnswer } from './helpers/raw-http.js';
import { cache, metric, MODEL, photo, serve, skip, until } from './helpers/serve.js';

// A real 5.5 MB photo: several MB still on the wire when a refusal comes.
const BIG = 'daisies_pink_alpha__libjxl_flower_alpha.png';
const SMALL = ['cat_tabby_chelsea__skimage.png', 'coffee_espresso_cup__skimage.png'];

/**
 * What Python's urllib.request.urlopen(Request(url, data, headers)) sends (CPython 3.11
 * Lib/urllib/request.py AbstractHTTPHandler.do_request_/do_open: Content-Length,
 * Host, User-Agent, Connection: close; http.client adds Accept-Encoding: identity).
 */
function urllib(port: number, path: string, body: Buffer, headers: [string, string][]): Buffer {
  return requestBytes(`POST ${path} HTTP/1.1`, [
    ['Accept-Encoding', 'identity'],
    ['Content-Length', String(body.length)],
    ['Host', `127.0.0.1:${port}`],
    ['User-Agent', 'Python-urllib/3.11'],
    ...headers,
    ['Connection', 'close'],
  ], body);
}

function assertRefused(a: RawAnswer, status: number, what: string) {
  assert.equal(a.writeError, null, `${what}: the upload failed (${a.writeError}) instead of reading the answer`);
  assert.equal(a.status, status, what);
  assert.equal(a.headers['content-type'], 'application/json', what);
  assert.ok(JSON.parse(a.body.toString('utf8')).error, what);
}

test('refused before its body is read (401, 415, 503 at capacity): a client uploading several MB with Connection: close reads the status and Retry-After', { skip }, async () => {
  const big = photo(BIG);
  const { port: authPort, started: authStarted } = await serve({ apiKey: 's3cret' });
  await authStarted;
  const unauthorized = await exchange(authPort, urllib(authPort, '/v1/classify', big, [['Content-Type', 'image/png']]));
  assertRefused(unauthorized, 401, '401');
  assert.equal(unauthorized.headers['www-authenticate'], 'Bearer');
  const unsupported = await exchange(authPort, urllib(authPort, '/v1/classify', big, [['Content-Type', 'text/plain'], ['Authorization', 'Bearer s3cret']]));
  assertRefused(unsupported, 415, '415');

  // One image admitted and waiting (the batch never fills, the delay is long): the queue is full.
  const { url, port, started } = await serve({ maxQueue: 1, maxBatch: 64, maxDelayMs: 600_000 });
  await started;
  const waiting = new AbortController();
  const held = fetch(`${url}/v1/classify`, { method: 'POST', body: photo(SMALL[0]!), headers: { 'content-type': 'image/png' }, signal: waiting.signal }).catch((e: Error) => e.name);
  await until('1 image in flight', async () => (await metric(url, 'backbones_images_in_flight')) === 1);
  for (const path of ['/v1/classify', `/v2/models/${MODEL}/infer`]) {
    const full = await exchange(port, urllib(port, path, big, [['Content-Type', 'image/png']]));
    assertRefused(full, 503, `503 ${path}`);
    assert.equal(full.headers['retry-after'], '1');
    assert.match(JSON.parse(full.body.toString()).error, /at capacity/);
  }
  waiting.abort();
  assert.equal(await held, 'AbortError');
});

test('Expect: 100-continue: a refused request gets its 503 instead of 100 Continue; an admitted one gets 100, then its answer', { skip }, async () => {
  const ask = (port: number, body: Buffer) =>
    new Promise<{ status: number; continued: boolean; body: string }>((resolve, reject) => {
      let continued = false;
      const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/v1/classify?k=1', headers: { 'content-type': 'image/png', 'content-length': body.length, expect: '100-continue' } });
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, continued, body: text }));
      });
      req.on('error', reject);
    });
  const { url, port, started } = await serve({ maxQueue: 1, maxBatch: 64, maxDelayMs: 600_000 });
  const open = await serve();
  await Promise.all([started, open.started]);
  const waiting = new AbortController();
  const held = fetch(`${url}/v1/classify`, { method: 'POST', body: photo(SMALL[0]!), headers: { 'content-type': 'image/png' }, signal: waiting.signal }).catch((e: Error) => e.name);
  await until('1 image in flight', async () => (await metric(url, 'backbones_images_in_flight')) === 1);
  const refused = await ask(port, photo(BIG));
  assert.deepEqual([refused.status, refused.continued], [503, false]);
  assert.match(JSON.parse(refused.body).error, /at capacity/);
  waiting.abort();
  assert.equal(await held, 'AbortError');

  const admitted = await ask(open.port, photo(SMALL[1]!));
  assert.deepEqual([admitted.status, admitted.continued], [200, true]);
  assert.equal(JSON.parse(admitted.body).predictions[0].label, 'espresso');
});

/** Access-log lines (pino JSON on stderr) of requests that arrived for `url`. */
const arrivals = (stderr: string, path: string) =>
  stderr.split('\n').filter((l) => l.startsWith('{') && (() => { const j = JSON.parse(l); return j.msg === 'incoming request' && j.req?.url?.startsWith(path); })()).length;

test('SIGTERM with 88 requests in flight (queued, uploading, connected but not sent, a burst still connecting): every one gets 200 or 503, none a reset; exit 0', { skip }, async () => {
  const child = spawn(process.execPath, [BIN, '--backend', 'onnx', 'serve', '-m', MODEL, '--port', '0', '--max-batch', '64', '--max-delay-ms', '600000', '--grace-ms', '120000'], {
    env: { ...process.env, BACKBONES_CACHE: cache, NO_COLOR: '1' },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  try {
    await until('the listening line', () => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(stderr), 1200);
    const url = /Server listening at (http:\/\/127\.0\.0\.1:(\d+))/.exec(stderr)![1]!;
    const port = Number(/:(\d+)$/.exec(url)![1]);
    await until('ready', async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 1200);

    // 4 whole requests wait in the queue for a batch that never fills.
    const queued = [...SMALL, ...SMALL].map((n) => exchange(port, urllib(port, '/v1/classify?k=1', photo(n), [['Content-Type', 'image/png']])));
    await until('4 images queued', async () => (await metric(url, 'backbones_queue_depth')) === 4);
    // 36 more have sent their headers and the first 256 kB of a 1.5 MB photo when SIGTERM comes.
    let resume!: () => void;
    const sigtermSeen = new Promise<void>((r) => (resume = r));
    const body = photo('room_interior_16bit__libjxl_hdr_room.png');
    const uploading = Array.from({ length: 36 }, () =>
      exchange(port, urllib(port, '/v1/classify?k=1', body, [['Content-Type', 'image/png']]), { pauseAfter: 256 * 1024, pause: () => sigtermSeen }),
    );
    // 8 more are connected and send nothing before SIGTERM, then their whole request.
    let connected = 0;
    const late = Array.from({ length: 8 }, () =>
      exchange(port, urllib(port, '/v1/classify?k=1', photo(SMALL[0]!), [['Content-Type', 'image/png']]), { pauseAfter: 0, pause: () => sigtermSeen, onConnect: () => connected++ }),
    );
    await until('40 requests arrived', () => arrivals(stderr, '/v1/classify') === 40, 1200);
    await until('8 more connections', () => connected === 8);
    // And a burst of 40 whole uploads starts as SIGTERM is sent: some connections are
    // still in the kernel's accept queue when the server starts shutting down.
    const burst = Array.from({ length: 40 }, () => exchange(port, urllib(port, '/v1/classify?k=1', body, [['Content-Type', 'image/png']])));
    child.kill('SIGTERM');
    await until('the SIGTERM line', () => /SIGTERM: no new requests/.test(stderr), 1200);
    resume();

    const answers = await Promise.all([...queued, ...uploading, ...late, ...burst]);
    for (const [i, a] of answers.entries()) assert.equal(a.writeError, null, `request ${i}: ${a.writeError}`);
    assert.deepEqual(answers.slice(0, 48).map((a) => a.status), [...Array(4).fill(200), ...Array(44).fill(503)]);
    for (const a of answers.slice(48)) assert.ok(a.status === 200 || a.status === 503, `burst: ${a.status}`);
    assert.equal(JSON.parse(answers[1]!.body.toString()).predictions[0].label, 'espresso');
    for (const a of answers.slice(4).filter((a) => a.status === 503)) {
      assert.equal(a.headers['retry-after'], '1');
      assert.match(JSON.parse(a.body.toString()).error, /shutting down/);
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /stopped\.\n/, 'drained before the grace period ran out');
  } finally {
    clearTimeout(killer);
    child.kill('SIGKILL');
  }
});

test('a port already in use: exit 1 (environment), one sentence naming --port, nothing on stdout', { skip }, async () => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const { port } = busy.address() as net.AddressInfo;
  try {
    const r = await runCli(['serve', '-m', MODEL, '--port', String(port)], { env: { BACKBONES_CACHE: cache } });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`Port ${port} on 127\\.0\\.0\\.1 is already in use \\(another server\\?\\): stop it or choose another --port\\.`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    busy.close();
  }
});
