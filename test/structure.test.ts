// The layers of src/, lowest first: every import (static or lazy) must point to the same
// folder or to a lower layer, and no files import each other in a loop. A new folder
// goes into this table; an import that points up fails here with the file that makes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './helpers/data.js';

const LAYERS: string[][] = [
  ['errors.ts', 'log.ts', 'version.ts', 'tf.ts'],
  ['images', 'output', 'monitor'],
  ['weights'],
  ['onnx'],
  ['engines'],
  ['zoo'],
  ['tasks', 'store'],
  ['spec'],
  ['pipeline'],
  ['measure', 'queue', 'serve'],
  ['actions'],
  ['commands'],
  ['cli.ts', 'index.ts'],
];

const SRC = path.join(REPO_ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

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
