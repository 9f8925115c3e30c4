// The layers of src/, lowest first: every import (static or lazy) must point to the same
// folder or to a lower layer, and no files import each other in a loop. A new folder
// goes into this table; an import that points up fails here with the file that makes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SRC, sourceFiles } from './helpers/source.js';

const LAYERS: string[][] = [
  ['errors.ts', 'log.ts', 'version.ts', 'tf.ts', 'spawn.ts', 'buffers.ts'],
  ['images', 'output', 'monitor'],
  ['weights'],
  ['onnx'],
  ['engines'],
  ['zoo'],
  ['tasks', 'store'],
  ['spec'],
  ['pipeline', 'search'],
  ['measure', 'queue', 'serve'],
  ['actions'],
  ['commands'],
  ['cli.ts', 'index.ts'],
];



interface Edge {
  from: string;
  to: string;
  lazy: boolean;
}

function importsOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const edges: Edge[] = [];
  const add = (spec: string, lazy: boolean) => {
    if (spec.startsWith('.')) edges.push({ from: file, to: path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts'), lazy });
  };
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;'"]*?from\s+['"]([^'"]+)['"]/gm)) add(m[1]!, false);
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) add(m[1]!, false);
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[1]!, true);
  return edges;
}

/** The top-level entry of src/ a file belongs to: its folder, or the file itself. */
const unit = (file: string) => path.relative(SRC, file).split(path.sep)[0]!;
const layerOf = (u: string) => LAYERS.findIndex((layer) => layer.includes(u));

const files = sourceFiles(SRC);
const edges = files.flatMap(importsOf);

test('every folder and top-level file of src/ has a layer', () => {
  const units = new Set(files.map(unit));
  const missing = [...units].filter((u) => layerOf(u) < 0);
  assert.deepEqual(missing, [], `add these to LAYERS in test/structure.test.ts: ${missing.join(', ')}`);
  assert.ok(edges.some((e) => unit(e.from) === 'cli.ts' && unit(e.to) === 'commands'), 'the import scanner found nothing');
});

test('every import points to the same folder or down the layers', () => {
  const up = edges
    .filter((e) => unit(e.from) !== unit(e.to) && layerOf(unit(e.to)) >= layerOf(unit(e.from)))
    .map((e) => `${path.relative(SRC, e.from)} imports ${path.relative(SRC, e.to)}${e.lazy ? ' (lazily)' : ''}`);
  assert.deepEqual(up, []);
});

test('no import loop between files', () => {
  const graph = new Map<string, string[]>();
  for (const e of edges) if (!e.lazy) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const loops: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const to of graph.get(f) ?? []) {
      if (state.get(to) === 'open') loops.push(stack.slice(stack.indexOf(to)).concat(to).map((x) => path.relative(SRC, x)).join(' -> '));
      else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  assert.deepEqual(loops, []);
});

// The run spec (src/spec) is the one option type and the one place image settings are
// built: an entry point that declares its own option type with a spec field, or builds
// image settings itself, fails here (issue 20).
const ENTRY_POINTS = ['actions', 'commands', 'queue', 'serve', 'measure', 'pipeline', 'index.ts', 'cli.ts'];
/** Fields of SpecOptions / RunSpec: declared once, in src/spec/types.ts. */
const SPEC_KEYS = [
  'backend', 'device', 'provider', 'providers', 'threads', 'weights', 'alpha', 'inputSize', 'preprocess', 'labels', 'labelOffset', 'seed',
  'layer', 'pool', 'l2', 'topK', 'resize', 'interpolation', 'background', 'kerasCompat', 'decode', 'decodeThreads', 'prefetchMb',
  'precision', 'calibrate', 'int8Model', 'batchSize', 'workers', 'selection', 'image',
];
/** Declarations that carry spec fields as data, not as options, and why. */
const NOT_OPTIONS: Record<string, string> = {
  BenchSettings: "the bench report's record of what ran (bench/SCHEMA.md)",
  ServiceOptions: "the serve component's knobs, set from the resolved spec by serve/run.ts (and by tests)",
};
/** Option-like declarations: what a command, thread, child or job is given. */
const OPTION_TYPE = /^\s*(?:export\s+)?(?:interface|type)\s+(\w*(?:Options|Config|Settings|Request|Init|JobData))\b[^{=]*[{=]/;

const stripComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');

test('int8 goes through the engine seam: nothing in src/zoo imports src/onnx', () => {
  const through = edges.filter((e) => unit(e.from) === 'zoo' && unit(e.to) === 'onnx').map((e) => `${path.relative(SRC, e.from)} imports ${path.relative(SRC, e.to)}`);
  assert.deepEqual(through, [], 'the engine obtains what it runs (PrepareSpec.precision); zoo asks the engine');
});

test('entry points take the spec: no option type of their own declares a spec field', () => {
  const found: string[] = [];
  for (const file of files.filter((f) => ENTRY_POINTS.includes(unit(f)))) {
    const lines = stripComments(readFileSync(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      const m = line.match(OPTION_TYPE);
      if (!m || m[1]! in NOT_OPTIONS) return;
      // The declaration's body: up to the line that closes it.
      let depth = 0;
      const body: string[] = [];
      for (let j = i; j < lines.length; j++) {
        body.push(lines[j]!);
        depth += (lines[j]!.match(/{/g) ?? []).length - (lines[j]!.match(/}/g) ?? []).length;
        if (depth <= 0 && j > i - 1 && /[};]\s*$/.test(lines[j]!)) break;
      }
      for (const key of SPEC_KEYS) {
        if (new RegExp(`^\\s*(?:readonly\\s+)?${key}\\??\\s*:`, 'm').test(body.slice(1).join('\n'))) found.push(`${path.relative(SRC, file)}: ${m[1]} declares ${key}`);
      }
    });
  }
  assert.deepEqual(found, [], 'declare these in src/spec/types.ts (SpecOptions/RunSpec) and take the resolved spec');
});

test('entry points take their image settings from the spec (imageSettingsOf), never build them', () => {
  const found: string[] = [];
  for (const file of files.filter((f) => ENTRY_POINTS.includes(unit(f)))) {
    stripComments(readFileSync(file, 'utf8'))
      .split('\n')
      .forEach((line, i) => {
        if (/\b(?:interpolation|background|kerasCompat)\s*:\s*(?!['"`])[\w.]/.test(line) && !/^\s*(?:readonly\s+)?\w+\??\s*:\s*[A-Z]/.test(line)) {
          found.push(`${path.relative(SRC, file)}:${i + 1}: ${line.trim()}`);
        }
      });
  }
  assert.deepEqual(found, [], 'image settings come from src/spec/load.ts imageSettingsOf(spec, info)');
});
