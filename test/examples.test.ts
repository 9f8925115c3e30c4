// Every example of the manual runs: the shell blocks of README.md and docs/*.md, and the
// "Examples:" lines of every command's --help, so an example that breaks fails CI.
//
// What is run. A fenced block's info string says what it needs:
//   ```sh run            run here (bash, set -euo pipefail), in a scratch folder (below)
//   ```js run            run here with node as an ES module, in the same scratch folder
//   ```sh needs-gpu      needs a hardware GPU: only parsed (bash -n)
//   ```sh needs-internet downloads (ImageNet weights that ../shared/data lacks) or reaches
//                        another host: only parsed
//   ```sh long           minutes of work (a default bench of VGG16, the test suite itself): parsed
// A ```sh/```bash block without one of these tags fails the test. The "Examples:" lines of a
// --help text run one after the other, unless HELP_NOT_RUN below names them with the reason
// (those are parsed); an entry that matches no example fails, so the list cannot go stale.
//
// Where. Each document (a markdown file, a command's --help) gets a fresh scratch folder, the
// same one for all its examples, in order, so an example may use what an earlier one of that
// document wrote. It holds the placeholders, links to real files of ../shared/data:
//   photos/                 cat.jpg, coffee.png, apple.jpg (the cat, the espresso, the apple)
//   more/, calib/, holdout/ 1, 3 and 3 other photos
//   cat.png, dog.png, img.png, query.jpg   the cat, the Pekinese, the cat, the apple JPEG
//   cat.jpg                 the cat photo as a JPEG (written by sharp at set-up; its PNG
//                           is the only cat in the data)
//   model/                  the TF-Hub graph MobileNet 0.25 (1001 classes: --label-offset 1)
//   node_modules            this repository's, so `import … from 'ioredis'` resolves
// and `backbones` on PATH runs this checkout's bin/backbones.js. The weights cache
// (BACKBONES_CACHE) holds the real MobileNet v1 0.25, so `-m mobilenet_0.25` is offline;
// BACKBONES_DEVICE=cpu skips the GPU probe (cheaper; no example depends on it).
// The only text substituted: `redis://localhost:6379/0` → a redis-server of this file
// (127.0.0.1, free port; flushed before each document), and the port 8080 (`--port 8080`,
// `localhost:8080`) → a free port. curl runs with --fail-with-body (unless the example says
// -f), so an HTTP error answer fails its example as a failing command does.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli.js';
import { MANUAL_PAGES } from '../src/commands/manual.js';
import { REPO_ROOT, IMAGES, MODELS, skipWithoutData } from './helpers/data.js';
import { cacheWithMobilenet025 } from './helpers/cache.js';
import { freePort, redisForThisFile, skipWithoutRedis } from './helpers/redis.js';

const TAGS = ['run', 'needs-gpu', 'needs-internet', 'long'] as const;
type Tag = (typeof TAGS)[number] | 'not run';

interface Example {
  where: string; // file:line, or `backbones … --help`
  lang: 'sh' | 'js';
  tag: Tag;
  code: string;
}

/** The fenced blocks of a markdown file that are shell (or tagged js) examples. */
function markdownExamples(file: string): Example[] {
  const rel = path.relative(REPO_ROOT, file);
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    const [lang, info] = [open[1]!, open[2]!.trim()];
    const shell = ['sh', 'bash', 'shell'].includes(lang);
    if (!shell && !(lang === 'js' && info !== '')) continue;
    assert.ok((TAGS as readonly string[]).includes(info), `${rel}:${start + 1}: a \`\`\`${lang} block needs one of the tags ${TAGS.join(', ')} (found "${info}")`);
    out.push({ where: `${rel}:${start + 1}`, lang: shell ? 'sh' : 'js', tag: info as Tag, code: body.join('\n') + '\n' });
  }
  return out;
}

/** Every command of the program with the full help text it prints (addHelpText included). */
function helpTexts(): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  const walk = (cmd: Command, names: string[]) => {
    let text = '';
    cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    cmd.outputHelp();
    out.push({ name: ['backbones', ...names, '--help'].join(' '), text });
    for (const sub of cmd.commands) walk(sub, [...names, sub.name()]);
  };
  walk(buildProgram(), []);
  return out;
}

// Help examples that cannot run here, and why (they are parsed). Matched as substrings.
const WEIGHTS = 'ImageNet weights that ../shared/data lacks (a download)';
const MINUTES = 'minutes of VGG16/ResNet50 (docs/bench.md runs a small bench)';
const HELP_NOT_RUN: [string, string][] = [
  ['-m vgg16', WEIGHTS],
  ['-m resnet50', WEIGHTS],
  ['-m mobilenet ', WEIGHTS], // (matched against the line + a space)
  ['models pull', 'the internet'],
  ['# vgg16 vs mobilenet', MINUTES],
  ['bench vgg16', MINUTES],
  ['bench mobilenet_v2 resnet50', MINUTES],
  ['./my_model/model.json', 'a model of your own and its labels.txt'],
  ['--device gpu', 'a hardware GPU'],
  ['curl -s', 'the server of the line above (docs/serve.md runs the same requests)'],
  ['dedup --in photos.lance', 'a store made by extract --to photos.lance (docs/classify-extract.md runs one)'],
  ['queue-host', 'another host and a shared filesystem (docs/redis-queue.md runs a queue and a worker)'],
];

/** Each command's "Examples:" lines, a document per command. */
function helpDocuments(): { name: string; examples: () => Example[] }[] {
  return helpTexts().flatMap(({ name, text }) => {
    const examples: Example[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^Examples?:\s*$/.test(lines[i]!)) continue;
      for (i++; i < lines.length && /^\s+\$ /.test(lines[i]!); i++) {
        const code = lines[i]!.replace(/^\s+\$ /, '');
        const not = HELP_NOT_RUN.find(([s]) => `${code} `.includes(s));
        examples.push({ where: `${name}: ${code}${not ? ` (needs ${not[1]})` : ''}`, lang: 'sh', tag: not ? 'not run' : 'run', code: code + '\n' });
      }
    }
    return examples.length > 0 ? [{ name, examples: () => examples }] : [];
  });
}

const docs = [path.join(REPO_ROOT, 'README.md'), ...readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => path.join(REPO_ROOT, 'docs', f))];

/** A scratch folder with the placeholders, and a `backbones` on PATH. */
async function scratch(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bb-examples-'));
  const link = (target: string, name: string) => symlinkSync(target, path.join(dir, name));
  const folder = (name: string, photos: string[]) => {
    mkdirSync(path.join(dir, name));
    for (const p of photos) link(IMAGES(p), path.join(name, p));
  };
  mkdirSync(path.join(dir, 'photos'));
  link(IMAGES('coffee_espresso_cup__skimage.png'), 'photos/coffee.png');
  link(IMAGES('apple_red__opencv.jpg'), 'photos/apple.jpg');
  folder('more', ['fruits_citrus_kiwi__opencv.jpg']);
  folder('calib', ['mandrill_baboon__opencv.jpg', 'colorful_cups__plasma_ColorfulCups.jpg', 'samoyeds_two_under_tree__forensics.jpg']);
  folder('holdout', ['rocket_falcon9_launchpad__skimage.jpg', 'astronaut_eileen_collins__skimage.png', 'railway_city_view__forensics.jpg']);
  link(IMAGES('cat_tabby_chelsea__skimage.png'), 'cat.png');
  link(IMAGES('cat_tabby_chelsea__skimage.png'), 'img.png');
  link(IMAGES('dog_pekinese_like__opencv_chicky_512.png'), 'dog.png');
  link(IMAGES('apple_red__opencv.jpg'), 'query.jpg');
  link(MODELS('mobilenet_v1_0.25_224_graph'), 'model');
  link(path.join(REPO_ROOT, 'node_modules'), 'node_modules');
  await sharp(IMAGES('cat_tabby_chelsea__skimage.png')).jpeg({ quality: 90 }).toFile(path.join(dir, 'cat.jpg'));
  link(path.join(dir, 'cat.jpg'), 'photos/cat.jpg');
  mkdirSync(path.join(dir, '.bin'));
  writeFileSync(path.join(dir, '.bin', 'backbones'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(REPO_ROOT, 'bin', 'backbones.js')}" "$@"\n`);
  chmodSync(path.join(dir, '.bin', 'backbones'), 0o755);
  return dir;
}

// Reported with the failure: an example's own output says what broke.
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, input?: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a server an example left in the background dies with it.
    const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const killAll = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      out += '\n[examples.test: killed after 120 s]';
      killAll();
    }, 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      killAll();
      resolve({ code, out });
    });
    child.stdin.end(input ?? '');
  });
}

// --fail-with-body unless the example asks for -f itself (curl refuses both).
const PRELUDE = 'set -euo pipefail\ncurl() { local a; for a in "$@"; do case "$a" in --fail*|-[!-]*f*) command curl "$@"; return;; esac; done; command curl --fail-with-body "$@"; }\n';

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replaceAll(' ', '-');

test('every command names its page of the manual, and the page and heading exist', () => {
  for (const cmd of buildProgram().commands) {
    const page = MANUAL_PAGES[cmd.name()];
    assert.ok(page, `${cmd.name()} has no page in MANUAL_PAGES (src/commands/manual.ts)`);
    const [file, anchor] = page.split('#');
    const text = readFileSync(path.join(REPO_ROOT, file!), 'utf8');
    if (anchor === undefined) continue;
    const anchors = [...text.matchAll(/^#{1,6} (.*)$/gm)].map((m) => anchorOf(m[1]!));
    assert.ok(anchors.includes(anchor), `${page}: no such heading in ${file}`);
  }
});

test('every link between pages of the manual points to a file and heading that exist', () => {
  for (const doc of docs) {
    const text = readFileSync(doc, 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1]!;
      if (/^[a-z]+:/.test(link)) continue; // http(s) and mailto
      const [file, anchor] = link.split('#');
      const target = file ? path.resolve(path.dirname(doc), file) : doc;
      let body: string;
      try {
        body = statSync(target).isDirectory() ? '' : readFileSync(target, 'utf8');
      } catch {
        assert.fail(`${path.relative(REPO_ROOT, doc)} links to ${link}, which does not exist`);
      }
      if (anchor === undefined || !target.endsWith('.md')) continue;
      const anchors = [...body.matchAll(/^#{1,6} (.*)$/gm)].map((h) => anchorOf(h[1]!));
      assert.ok(anchors.includes(anchor), `${path.relative(REPO_ROOT, doc)} links to ${link}: no such heading`);
    }
  }
});

const dataSkip = skipWithoutData();
const redisSkip = dataSkip || skipWithoutRedis();
let redisUrl = '';
let flush: () => Promise<unknown> = async () => undefined;
redisForThisFile(redisSkip, (server, client) => {
  redisUrl = server.url;
  flush = () => client.flushall();
});

describe('the examples of the manual run', { skip: redisSkip }, () => {
  let cache = '';
  before(() => {
    cache = cacheWithMobilenet025();
  });
  after(() => rmSync(cache, { recursive: true, force: true }));

  const helps = helpDocuments();
  const documents: { name: string; examples: () => Example[] }[] = [...docs.map((f) => ({ name: path.relative(REPO_ROOT, f), examples: () => markdownExamples(f) })), ...helps];

  test('every help example the list says cannot run exists', () => {
    const all = helps.flatMap((h) => h.examples()).map((e) => e.code);
    for (const [s] of HELP_NOT_RUN) assert.ok(all.some((c) => `${c.trim()} `.includes(s)), `HELP_NOT_RUN names "${s}", which no --help example contains`);
  });

  for (const doc of documents) {
    test(doc.name, async (t) => {
      await flush();
      const dir = await scratch();
      try {
        for (const ex of doc.examples()) {
          await t.test(`${ex.where} (${ex.tag})`, async () => {
            if (ex.lang === 'js') {
              const parsed = spawnSync(process.execPath, ['--check', '--input-type=module'], { input: ex.code, encoding: 'utf8' });
              assert.equal(parsed.status, 0, `${ex.where} does not parse:\n${parsed.stderr}`);
            } else {
              const parsed = spawnSync('bash', ['-n'], { input: ex.code, encoding: 'utf8' });
              assert.equal(parsed.status, 0, `${ex.where} does not parse:\n${parsed.stderr}`);
            }
            if (ex.tag !== 'run') return;
            const port = String(await freePort());
            const code = ex.code.replaceAll('redis://localhost:6379/0', redisUrl).replace(/(--port |localhost:)8080\b/g, `$1${port}`);
            const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.join(dir, '.bin')}:${process.env.PATH}`, BACKBONES_CACHE: cache, BACKBONES_DEVICE: 'cpu', NO_COLOR: '1' };
            delete env.FORCE_COLOR;
            const r = ex.lang === 'sh' ? await run('bash', ['-c', PRELUDE + code], dir, env) : await run(process.execPath, ['--input-type=module'], dir, env, code);
            assert.equal(r.code, 0, `${ex.where} failed (exit ${r.code}):\n${code}\n--- its output:\n${r.out.slice(-4000)}`);
          });
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
