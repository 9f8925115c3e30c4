// serve's /metrics as Prometheus' own linter reads it: `promtool check metrics` (Debian's
// prometheus package, installed by test/system/install.sh) on a live server with
// Node's process metrics on and traffic behind every metric, and any complaint fails.
// Without promtool the test skips locally and fails under CI=true.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { form, photo, post, serve, skip } from './helpers/serve.js';

function skipWithoutPromtool(): false | string {
  if (spawnSync('promtool', ['--version']).status === 0) return false;
  if (process.env.CI === 'true') throw new Error('promtool not found; CI requires it (apt-get install prometheus, or run test/system/install.sh).');
  return 'promtool not installed';
}

const noPromtool = skip || skipWithoutPromtool();

function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics']);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

test('promtool check metrics passes on a live /metrics with process metrics and traffic', { skip: noPromtool }, async () => {
  const { url, started } = await serve({ processMetrics: true });
  await started;
  const answers = await Promise.all([
    post(`${url}/v1/classify`, photo('cat_tabby_chelsea__skimage.png'), 'image/png'),
    post(`${url}/v1/extract?layer=conv_pw_13_relu&pool=avg`, form(['coffee_espresso_cup__skimage.png'])),
    post(`${url}/v1/classify`, Buffer.from('not an image'), 'image/png'),
    post(`${url}/v2/models/mobilenet_0.25/infer`, JSON.stringify({ inputs: [{ name: 'images', shape: [1], datatype: 'BYTES', data: [photo('apple_red__opencv.jpg').toString('base64')] }] })),
  ]);
  assert.deepEqual(answers.map((r) => r.status), [200, 200, 422, 200]);
  const text = await (await fetch(`${url}/metrics`)).text();
  // Traffic is there, and Node's process metrics.
  assert.match(text, /^backbones_http_request_duration_seconds_bucket\{le="0\.001",route="\/v1\/classify",status="200"\} \d+$/m);
  assert.match(text, /^# TYPE backbones_process_cpu_seconds_total counter$/m);
  assert.match(text, /^# TYPE backbones_nodejs_active_handles gauge$/m);
  const { code, output } = await promtoolCheck(text);
  assert.equal(output, '', 'promtool complaints');
  assert.equal(code, 0);
});
