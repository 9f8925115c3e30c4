// The built CLI as a user runs it: a child process of bin/backbones.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCli } from './helpers/cli.js';
import { IMAGES, skipWithoutData } from './helpers/data.js';

test('--help lists every subcommand with examples', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const sub of ['classify', 'extract', 'bench', 'models', 'doctor']) assert.match(r.stdout, new RegExp(`\\b${sub}\\b`));
  assert.match(r.stdout, /Examples:/);
  assert.match(r.stdout, /--backend <name>/);
});

test('each subcommand has --help with examples', async () => {
  for (const sub of ['classify', 'extract', 'bench', 'models', 'doctor']) {
    const r = await runCli([sub, '--help']);
    assert.equal(r.code, 0, `${sub} --help exit code`);
    assert.match(r.stdout, /Examples:/, `${sub} --help has examples`);
    assert.match(r.stdout, new RegExp(`Usage: backbones ${sub}`));
  }
});

test('--version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

test('an unknown subcommand exits 2 with one clear line and no stack', async () => {
  const r = await runCli(['clasify']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'clasify'/);
  assert.match(r.stderr, /Did you mean classify\?/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(r.stdout, '');
});

test('an unknown option exits 2 with one clear line', async () => {
  const r = await runCli(['doctor', '--frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option '--frobnicate'/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('a bad backend name is rejected with the valid choices', async () => {
  const r = await runCli(['--backend', 'cuda', 'doctor']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Allowed choices are auto, tensorflow, onnx, wasm, cpu\./);
});

test('BACKBONES_BACKEND=tensorflow without a native TensorFlow that loads is one clear error naming why', { skip: skipWithoutData() }, async () => {
  // A real input: a missing one is a usage error said before any backend starts.
  const [r, doctor] = await Promise.all([runCli(['classify', IMAGES('apple_red__opencv.jpg')], { env: { BACKBONES_BACKEND: 'tensorflow' } }), runCli(['doctor', '--format', 'json'])]);
  const natives = (JSON.parse(doctor.stdout).backends as { candidate: string; status: string; reason: string }[]).filter((b) => b.candidate.startsWith('tensorflow'));
  assert.equal(natives.length, 2);
  if (natives.some((b) => b.status === 'available')) {
    // A machine with tfjs-node(-gpu): the backend starts.
    assert.match(r.stderr, /backend: tensorflow \(/);
    return;
  }
  assert.equal(r.code, 1);
  assert.match(r.stderr, /tensorflow backend cannot start/);
  for (const b of natives) assert.ok(r.stderr.includes(b.reason), `names "${b.reason}"`);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('a bad numeric option names the flag and the value', async () => {
  const r = await runCli(['classify', 'x.jpg', '-k', 'zero']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--top-k must be a positive integer\. Received: zero/);
});

test('a reader that closes the pipe early (| head -1) ends the output quietly, exit 0', async () => {
  const bin = fileURLToPath(new URL('../bin/backbones.js', import.meta.url));
  const child = spawn(process.execPath, [bin, 'models', 'list', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Read nothing: close our end at once, as `head` does after its first line.
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
});
